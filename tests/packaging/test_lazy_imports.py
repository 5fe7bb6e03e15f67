"""What the HTTP handlers leave to their routes: importing a handler loads no domain module, adapter or
per-area wiring, which keeps it within the cold-start budget (docs/build-and-bench.md)."""

from functools import cache

import pytest

from bench import cold_start

# The domain, the adapters (Stripe, the TikTok client, the repositories) and the per-area wiring
# modules load in the routes that use them.
DEFERRED_PREFIXES = ("flowctory.domain", "flowctory.adapters", "flowctory.schedule_wiring", "flowctory.billing_wiring")
DEFERRED_PREFIXES += ("flowctory.publishing_wiring", "flowctory.media")
# Except the single table and the media store, which flowctory.wiring imports and every request uses.
SHARED_ADAPTERS = {"flowctory.adapters", "flowctory.adapters.aws", "flowctory.adapters.dynamodb"}
SHARED_ADAPTERS |= {"flowctory.adapters.s3"}
# What the bench's floor imports (docs/build-and-bench.md).
FLOOR_MODULES = {"boto3", "aws_lambda_powertools.event_handler.api_gateway", "pydantic.main"}


@cache
def _loaded_by(function: str) -> frozenset[str]:
    """The modules of a fresh interpreter that imported the handler as Lambda would at init (tracer on)."""
    return frozenset(cold_start.loaded_modules(cold_start.source_targets([function])[1]))


def _deferred(modules: frozenset[str]) -> set[str]:
    return {name for name in modules if name.startswith(DEFERRED_PREFIXES)} - SHARED_ADAPTERS


@pytest.mark.parametrize("function", ["billing", "schedule", "tiktok_oauth", "webhooks"])
def test_importing_an_api_handler_loads_no_domain_adapter_or_area_wiring(function: str) -> None:
    # Given the handler's module, which a fresh interpreter imports
    modules = _loaded_by(function)

    # Then the handler is there, and nothing that its routes import on first use
    assert f"functions.{function}.app" in modules
    assert _deferred(modules) == set()


@pytest.mark.parametrize("function", ["auth", "billing", "schedule", "tiktok_oauth"])
def test_a_handler_serving_signed_in_users_still_loads_what_the_floor_stands_for(function: str) -> None:
    # Given a handler that installs the session middleware: its first request reads the session store
    modules = _loaded_by(function)

    # Then boto3, the resolver and pydantic's models load at init, as in the floor: deferring them
    # would flatter the ratio without shortening the cold request
    assert modules >= FLOOR_MODULES


def test_importing_the_auth_handler_leaves_sign_in_with_google_and_facebook_to_its_routes() -> None:
    # Given the auth handler (its /me router still imports the accounts domain at import)
    modules = _loaded_by("auth")

    # Then the OAuth sign-in domain is not loaded
    assert "functions.auth.app" in modules
    assert "flowctory.domain.oauth_login" not in modules


def test_the_guard_sees_a_module_the_handler_imports() -> None:
    # Given the upload handler, whose single path needs the publishing domain at once
    modules = _loaded_by("upload")

    # Then the guard's view of the loaded modules does show the domain (so an empty set above means something)
    assert "flowctory.domain.publishing" in _deferred(modules)

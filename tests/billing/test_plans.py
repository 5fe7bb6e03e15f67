"""Plans and limits are configuration: sensible defaults, overridable per deployment, validated loudly."""

import json

import pytest

from flowctory.errors import ConfigurationError
from flowctory.plans import load_catalog

DEFAULT_CATALOG = load_catalog("")


def test_the_defaults_have_a_free_plan_and_paid_plans_with_stripe_prices():
    paid = [plan for plan in DEFAULT_CATALOG.plans if not plan.is_free]

    assert DEFAULT_CATALOG.free.id == "free"
    assert len(paid) >= 2
    assert all(plan.stripe_price_id and plan.stripe_price_id.startswith("price_") for plan in paid)
    assert DEFAULT_CATALOG.for_price(paid[0].stripe_price_id) == paid[0]
    assert DEFAULT_CATALOG.for_price("price_unknown") is None
    # Each paid plan allows more than the free one
    for plan in paid:
        assert plan.limits.tiktok_accounts > DEFAULT_CATALOG.free.limits.tiktok_accounts
        assert plan.limits.posts_per_month > DEFAULT_CATALOG.free.limits.posts_per_month


def plan(plan_id: str, price: str | None, accounts: int = 1) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": plan_id,
        "name": plan_id.title(),
        "limits": {"tiktok_accounts": accounts, "posts_per_month": 5, "retries_per_post": 1},
    }
    if price:
        entry["stripe_price_id"] = price
    return entry


def test_a_deployment_sets_its_own_plans_and_prices():
    catalog = load_catalog(json.dumps([plan("free", None), plan("agency", "price_live_agency", accounts=50)]))

    assert [p.id for p in catalog.plans] == ["free", "agency"]
    agency = catalog.for_price("price_live_agency")
    assert agency is not None and agency.limits.tiktok_accounts == 50
    assert load_catalog("") == DEFAULT_CATALOG
    assert load_catalog("   ").plans == DEFAULT_CATALOG.plans


@pytest.mark.parametrize(
    ("plans_json", "reason"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps([plan("creator", "price_a")]), "exactly one plan has no Stripe price"),
        (json.dumps([plan("free", None), plan("free", "price_a")]), "plan ids must be unique"),
        (json.dumps([plan("free", None), plan("a", "price_x"), plan("b", "price_x")]), "one plan only"),
        (
            json.dumps([plan("free", None), {**plan("a", "price_x"), "limits": {"tiktok_accounts": -1}}]),
            "greater than or equal to 0",
        ),
        (json.dumps([plan("free", None), plan("a", "not-a-price")]), "String should match pattern"),
    ],
)
def test_a_broken_catalogue_fails_loudly_naming_the_rule(plans_json, reason):
    with pytest.raises(ConfigurationError) as refused:
        load_catalog(plans_json)

    assert "PLANS_JSON is not a valid plan catalogue" in str(refused.value)
    assert reason in str(refused.value)


def test_get_plans_lists_the_configured_plans(aws, billing_on, monkeypatch, lambda_context):
    from flowctory import billing_wiring, wiring
    from functions.billing import app
    from sandbox.events import http_api_event

    monkeypatch.setenv("PLANS_JSON", json.dumps([plan("free", None), plan("pro", "price_pro", accounts=7)]))
    wiring.reset()
    billing_wiring.reset()

    response = app.lambda_handler(http_api_event("GET", "/billing/plans"), lambda_context)

    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["billing_enabled"] is True
    assert [(p["id"], p["purchasable"], p["limits"]["tiktok_accounts"]) for p in body["plans"]] == [
        ("free", False, 1),
        ("pro", True, 7),
    ]

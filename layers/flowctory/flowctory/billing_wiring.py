"""Builds billing's dependencies from settings, lazily (never at import), for the billing and webhooks
functions and for the routes that enforce plan limits (schedule, tiktok_oauth).

Enforcement needs only the table and the plans (`entitlements()`, `usage()`, `catalog()`); reading
the Stripe secret is for Checkout, Portal and the webhook (`billing()`).
"""

from functools import lru_cache

from flowctory import wiring
from flowctory.adapters import stripe_gateway
from flowctory.adapters.billing_store import DynamoBillingRepository, DynamoUsageReader
from flowctory.adapters.webhook_ledger import DynamoWebhookLedger
from flowctory.domain.billing import WEBHOOK_LEASE, WEBHOOK_RECORD_TTL, BillingDeps
from flowctory.plans import PlanCatalog, load_catalog
from flowctory.settings import CommonSettings, StripeSettings, load_settings


def catalog() -> PlanCatalog:
    return load_catalog(load_settings(CommonSettings).PLANS_JSON)


def entitlements() -> DynamoBillingRepository:
    """The billing items: `domain.billing.load_entitlement(entitlements(), catalog(), ...)`."""
    return DynamoBillingRepository(wiring.table())


def usage() -> DynamoUsageReader:
    return DynamoUsageReader(wiring.table())


def webhook_ledger() -> DynamoWebhookLedger:
    return DynamoWebhookLedger(wiring.table(), retention=WEBHOOK_RECORD_TTL, lease=WEBHOOK_LEASE)


@lru_cache
def _gateway(keys: stripe_gateway.StripeKeys, api_base: str) -> stripe_gateway.StripeGateway:
    return stripe_gateway.StripeGateway(keys, api_base=api_base)


def stripe() -> stripe_gateway.StripeGateway | None:
    """The Stripe client, or None when no API key is configured (billing off)."""
    settings = load_settings(StripeSettings)
    keys = stripe_gateway.read_keys(settings.STRIPE_SECRET_ARN)
    if not keys.api_key:
        return None
    return _gateway(keys, settings.STRIPE_API_BASE)


def billing() -> BillingDeps:
    return BillingDeps(
        repository=entitlements(),
        catalog=catalog(),
        web_origin=load_settings(CommonSettings).WEB_ORIGIN,
        stripe=stripe(),
    )


def reset() -> None:
    """Forget cached clients, keys and plans (tests and the sandbox, after changing the environment)."""
    _gateway.cache_clear()
    stripe_gateway.reset()
    load_catalog.cache_clear()

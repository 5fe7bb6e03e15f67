"""Stripe: the only module that imports stripe.

stripe is imported on first use, never at import: it costs about 0.3 s, which a cold start of a
route that never talks to Stripe should not pay. Requests go through one StripeClient with the API
version pinned (the webhook endpoint must be set to the same version), network retries on, short
timeouts that fit the Lambda timeout, and the API base from configuration (tests point it at a
local fake). Stripe errors become `UpstreamError`; what Stripe said goes to the log, never the key.
"""

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowctory.adapters import aws
from flowctory.domain.billing import BillingNotConfigured, SubscriptionSnapshot
from flowctory.errors import BadRequest, ConfigurationError, UpstreamError
from flowctory.observability import logger

if TYPE_CHECKING:
    from stripe import StripeClient

STRIPE_API_VERSION = "2026-10-28.endive"
DEFAULT_API_BASE = "https://api.stripe.com"
MAX_NETWORK_RETRIES = 2
# Connect and read timeouts. Stripe answers in well under a second; a refused connection or a 5xx is
# retried within a few seconds. If every attempt hangs, the function's timeout cuts the request (a
# webhook's claim then expires and Stripe's redelivery takes over).
TIMEOUT_SECONDS = (2.0, 3.0)
SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's default; older signatures are replays
FUTURE_SKEW_SECONDS = 300  # stripe-python accepts any future timestamp; we do not
SECRET_MAX_AGE_SECONDS = 300
MAX_SUBSCRIPTIONS_LISTED = 100  # Stripe's page maximum; a customer has one or a few


@dataclass(frozen=True)
class StripeKeys:
    """The StripeSecret's content. Blank api_key: billing is off."""

    api_key: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)


_keys_cache: dict[str, tuple[float, StripeKeys]] = {}


def read_keys(secret_arn: str) -> StripeKeys:
    """The Stripe keys from Secrets Manager (JSON {"api_key", "webhook_secret"}), cached five minutes.

    A secret that has no value yet (a fresh deployment) means billing is off, as a blank key does.
    Raises:
        ConfigurationError: the secret's value is not that JSON.
    """
    cached = _keys_cache.get(secret_arn)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    client = aws.secretsmanager()
    try:
        text = client.get_secret_value(SecretId=secret_arn).get("SecretString") or ""
    except client.exceptions.ResourceNotFoundException:
        logger.warning("the Stripe secret has no value yet: billing is off")
        text = ""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        raise ConfigurationError("the Stripe secret is not JSON") from None
    api_key = (value.get("api_key") or "") if isinstance(value, dict) else None
    webhook_secret = (value.get("webhook_secret") or "") if isinstance(value, dict) else None
    if not isinstance(api_key, str) or not isinstance(webhook_secret, str):
        raise ConfigurationError('the Stripe secret must be {"api_key": "...", "webhook_secret": "..."}')
    keys = StripeKeys(api_key=api_key.strip(), webhook_secret=webhook_secret.strip())
    _keys_cache[secret_arn] = (time.monotonic() + SECRET_MAX_AGE_SECONDS, keys)
    return keys


def reset() -> None:
    """Forget cached keys (tests and the sandbox, after changing the secret)."""
    _keys_cache.clear()


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def snapshot_from(subscription: dict[str, Any]) -> SubscriptionSnapshot:
    """A subscription object (as Stripe's API returns it) reduced to what billing keeps.

    Since API version 2025-03-31 the billing period is on each item, not on the subscription.
    """
    items = (subscription.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    price = first.get("price") or {}
    period_end = first.get("current_period_end", subscription.get("current_period_end"))
    customer = subscription.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    return SubscriptionSnapshot(
        id=str(subscription["id"]),
        customer_id=str(customer_id or ""),
        status=str(subscription.get("status") or "unknown"),
        price_id=_text_or_none(price.get("id") if isinstance(price, dict) else price),
        created=int(subscription.get("created") or 0),
        current_period_end=_int_or_none(period_end),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        trial_end=_int_or_none(subscription.get("trial_end")),
    )


class StripeGateway:
    """Implements the domain's StripeApi with stripe-python."""

    def __init__(
        self, keys: StripeKeys, *, api_base: str = DEFAULT_API_BASE, max_network_retries: int = MAX_NETWORK_RETRIES
    ) -> None:
        if not keys.api_key:
            raise ValueError("a StripeGateway needs an API key; without one billing is off")
        self._keys = keys
        self._api_base = api_base.rstrip("/")
        self._max_network_retries = max_network_retries
        self._client: StripeClient | None = None

    @property
    def livemode(self) -> bool:
        return self._keys.api_key.startswith(("sk_live_", "rk_live_"))

    @property
    def client(self) -> "StripeClient":
        if self._client is None:
            import stripe

            self._client = stripe.StripeClient(
                self._keys.api_key,
                stripe_version=STRIPE_API_VERSION,
                base_addresses={"api": self._api_base},
                max_network_retries=self._max_network_retries,
                http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
            )
        return self._client

    def parse_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in a Stripe delivery, once its signature is verified on the raw bytes.

        Raises:
            BillingNotConfigured: no webhook secret is configured.
            BadRequest: missing, bad, stale or future-dated signature; or a body that is not JSON.
        """
        import stripe

        if not self._keys.webhook_secret:
            logger.error("Stripe webhook received but no webhook secret is configured")
            raise BillingNotConfigured()
        if not signature:
            raise BadRequest("The Stripe-Signature header is missing.", code="missing_signature")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, signature, self._keys.webhook_secret, SIGNATURE_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
            logger.warning("Stripe signature refused", reason=str(error).split(" (")[0][:80])
            raise BadRequest("The Stripe-Signature header does not verify.", code="invalid_signature") from None
        if _signed_at(signature) > time.time() + FUTURE_SKEW_SECONDS:
            raise BadRequest("The Stripe-Signature header is dated in the future.", code="invalid_signature")
        try:
            event = json.loads(text)
        except ValueError:
            raise BadRequest("The body is not JSON.", code="malformed_event") from None
        if not isinstance(event, dict):
            raise BadRequest("The body is not a Stripe event.", code="malformed_event")
        return event

    def create_customer(self, *, user_id: str, idempotency_key: str) -> str:
        """Only our opaque user id goes to Stripe; Checkout collects what Stripe needs itself."""
        customer = self._call(
            "create customer",
            lambda: self.client.v1.customers.create(
                params={"metadata": {"user_id": user_id}}, options={"idempotency_key": idempotency_key}
            ),
        )
        return str(customer.id)

    def create_checkout_session(
        self,
        *,
        user_id: str,
        customer_id: str,
        plan_id: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> str:
        session = self._call(
            "create checkout session",
            lambda: self.client.v1.checkout.sessions.create(
                params={
                    "mode": "subscription",
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "client_reference_id": user_id,
                    "customer": customer_id,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": {"user_id": user_id, "plan": plan_id},
                    "subscription_data": {"metadata": {"user_id": user_id, "plan": plan_id}},
                },
                options={"idempotency_key": idempotency_key},
            ),
        )
        if not session.url:
            raise UpstreamError("Stripe returned a checkout session without a page.", code="stripe_error")
        return str(session.url)

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        portal = self._call(
            "create portal session",
            lambda: self.client.v1.billing_portal.sessions.create(
                params={"customer": customer_id, "return_url": return_url}
            ),
        )
        return str(portal.url)

    def list_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        """Every subscription of the customer as Stripe holds it now, ended ones included, newest first."""
        page = self._call(
            "list subscriptions",
            lambda: self.client.v1.subscriptions.list(
                params={"customer": customer_id, "status": "all", "limit": MAX_SUBSCRIPTIONS_LISTED}
            ),
        )
        return [snapshot_from(subscription.to_dict()) for subscription in page.data]

    def cancel_subscription(self, subscription_id: str) -> None:
        """End the subscription now (account erasure). One already gone or ended counts as done."""
        self._call_or_gone(
            "cancel subscription", lambda: self.client.v1.subscriptions.cancel(subscription_id), already=("canceled",)
        )

    def delete_customer(self, customer_id: str) -> None:
        """Delete the customer (account erasure, stripe-billing reference §8): Stripe ends its subscriptions and
        drops its payment methods; invoices stay as Stripe's financial records. A repeat counts as done."""
        self._call_or_gone("delete customer", lambda: self.client.v1.customers.delete(customer_id))

    def _call_or_gone(self, operation: str, request: Any, *, already: tuple[str, ...] = ()) -> None:
        import stripe

        try:
            request()
        except stripe.InvalidRequestError as error:
            message = str(error.user_message or "")
            if error.code == "resource_missing" or any(word in message for word in already):
                logger.info("Stripe object already gone", operation=operation)
                return
            raise _failure(operation, error) from None
        except stripe.StripeError as error:
            raise _failure(operation, error) from None

    def _call(self, operation: str, request: Any) -> Any:
        import stripe

        try:
            return request()
        except stripe.StripeError as error:
            raise _failure(operation, error) from None


def _failure(operation: str, error: Any) -> UpstreamError:
    """What Stripe said goes to the log (never the key); the caller gets a plain UpstreamError."""
    logger.error(
        "Stripe request failed",
        operation=operation,
        error_type=type(error).__name__,
        stripe_code=error.code,
        http_status=error.http_status,
        stripe_request_id=error.request_id,
    )
    return UpstreamError("Stripe did not answer as expected. Please try again in a moment.", code="stripe_error")


def _signed_at(signature: str) -> int:
    for item in signature.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return 0

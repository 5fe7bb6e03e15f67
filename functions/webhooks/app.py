"""Webhooks (API Gateway HTTP API): Stripe and TikTok events, signature-verified and idempotent."""

import base64

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory.clock import utcnow
from flowctory.http import create_app
from flowctory.models.billing import WebhookAck
from flowctory.observability import logger, metrics, tracer

app = create_app()


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The exact bytes the provider sent: signatures are computed over them, never over re-serialised JSON."""
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


@app.post("/webhooks/stripe")
@tracer.capture_method
def receive_stripe_event() -> WebhookAck:
    # Imported here, like the publishing path below: this function's cold start pays for neither.
    from flowctory import billing_wiring
    from flowctory.domain import billing

    event = app.current_event
    outcome = billing.receive_stripe_webhook(
        billing_wiring.billing(),
        billing_wiring.webhook_ledger(),
        payload=raw_body(event),
        signature=event.headers.get("stripe-signature"),
        now=utcnow(),
    )
    metrics.add_metric(name=f"StripeWebhook{outcome.capitalize()}", unit="Count", value=1)
    return WebhookAck(outcome=outcome)


@app.post("/webhooks/tiktok")
@tracer.capture_method
def receive_tiktok_event() -> WebhookAck:
    # Imported here: Stripe deliveries (and this function's cold start) do not pay for the publishing path.
    from flowctory import publishing_wiring
    from flowctory.domain import tiktok_webhooks

    event = app.current_event
    outcome = tiktok_webhooks.receive_tiktok_webhook(
        publishing_wiring.tiktok_webhooks(),
        payload=raw_body(event),
        signature=event.headers.get("tiktok-signature"),
        now=utcnow(),
    )
    metrics.add_metric(name=f"TikTokWebhook{outcome.capitalize()}", unit="Count", value=1)
    return WebhookAck(outcome=outcome)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)

"""Billing fixtures: a fake Stripe on localhost, the billing and webhooks functions' environment, a signed-in
browser for the billing routes, and a webhook sender that signs payloads as Stripe does."""

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from flowctory import billing_wiring, wiring
from flowctory.adapters.accounts import DynamoAccountStore
from flowctory.models.accounts import UserProfile
from sandbox.events import http_api_event
from sandbox.stack import LocalStack
from tests.billing.fake_stripe import FakeStripe, signature

WEBHOOK_SECRET = "whsec_test_" + secrets.token_hex(16)


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


def _use_functions(function_env: Callable[[str], dict[str, str]], monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    function_env("WebhooksFunction")
    function_env("BillingFunction")
    monkeypatch.setenv("STRIPE_API_BASE", base)
    wiring.reset()
    billing_wiring.reset()


@pytest.fixture
def billing_on(
    aws: LocalStack,
    function_env: Callable[[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    fake_stripe: FakeStripe,
) -> Iterator[FakeStripe]:
    """Both functions' template environment, a Stripe key and webhook secret in StripeSecret, the API
    base pointed at the fake."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.ref("StripeSecret"),
        SecretString=json.dumps({"api_key": fake_stripe.api_key, "webhook_secret": WEBHOOK_SECRET}),
    )
    _use_functions(function_env, monkeypatch, fake_stripe.base_url)
    yield fake_stripe
    billing_wiring.reset()


@pytest.fixture
def billing_off(
    aws: LocalStack,
    function_env: Callable[[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    fake_stripe: FakeStripe,
) -> Iterator[FakeStripe]:
    """The sandbox default (StripeSecret with blank keys), the API base still pointed at the fake so that
    a test can prove nothing calls it."""
    _use_functions(function_env, monkeypatch, fake_stripe.base_url)
    yield fake_stripe
    billing_wiring.reset()


def response_of(result: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(result["statusCode"]), json.loads(result["body"]) if result.get("body") else {}


@dataclass
class Browser:
    """A signed-in user's browser: session and CSRF cookies, the CSRF header and the app's Origin."""

    user_id: str
    cookies: list[str]
    headers: dict[str, str]
    context: Any

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> tuple[int, dict[str, Any]]:
        from functions.billing import app

        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {**self.headers, "content-type": "application/json"}
        event = http_api_event(method, path, headers=headers, cookies=self.cookies, body=payload)
        return response_of(app.lambda_handler(event, self.context))


@pytest.fixture
def sign_in(lambda_context: Any) -> Callable[[str], Browser]:
    """Creates a user (as sign-up would) and returns a browser signed in as them."""

    def sign_in(user_id: str) -> Browser:
        now = datetime.now(UTC)
        profile = UserProfile(
            user_id=user_id,
            email=f"{user_id}@example.com",
            email_verified=True,
            name="Test Creator",
            timezone="Europe/Paris",
            created_at=now,
            updated_at=now,
            age_attested_at=now,
            terms_accepted_at=now,
            policy_version="2026-01-04",
        )
        DynamoAccountStore(wiring.table()).create_user(profile)
        sessions = wiring.sessions()
        session = sessions.start(
            user_id=user_id, email=profile.email, timezone=profile.timezone, tiktok_connected=False, version=1
        )
        session_cookie = sessions.session_cookie(session)
        csrf_token, csrf_cookie = sessions.new_csrf(session)
        origin = wiring.sessions().allowed_origins
        return Browser(
            user_id=user_id,
            cookies=[f"{session_cookie.name}={session_cookie.value}", f"{csrf_cookie.name}={csrf_cookie.value}"],
            headers={"x-csrf-token": csrf_token, "origin": next(iter(origin))},
            context=lambda_context,
        )

    return sign_in


@dataclass
class StripeSender:
    """Posts events to POST /webhooks/stripe through the webhooks function, signed like Stripe signs."""

    context: Any
    secret: str = WEBHOOK_SECRET

    def send_raw(
        self, payload: bytes, *, header: str | None, base64_body: bool | None = None
    ) -> tuple[int, dict[str, Any]]:
        from functions.webhooks import app

        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0"}
        if header is not None:
            headers["stripe-signature"] = header
        event = http_api_event("POST", "/webhooks/stripe", headers=headers, body=payload, base64_body=base64_body)
        return response_of(app.lambda_handler(event, self.context))

    def send(self, event: dict[str, Any], *, timestamp: int | None = None) -> tuple[int, dict[str, Any]]:
        payload = json.dumps(event, indent=2).encode()
        return self.send_raw(payload, header=signature(payload, self.secret, timestamp=timestamp))

    def send_all(self, events: list[dict[str, Any]]) -> list[str]:
        outcomes = []
        for event in events:
            status, body = self.send(event)
            assert status == 200, body
            outcomes.append(body["outcome"])
        return outcomes


@pytest.fixture
def stripe_sender(lambda_context: Any) -> StripeSender:
    return StripeSender(context=lambda_context)


def table_items(aws: LocalStack) -> list[dict[str, Any]]:
    """Every item in the table (tests only: the app never scans)."""
    table = boto3.resource("dynamodb").Table(aws.ref("AppTable"))
    response = table.scan()
    items = response["Items"]
    while "LastEvaluatedKey" in response:
        response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
        items.extend(response["Items"])
    return items

"""The Stripe adapter against the fake Stripe over real HTTP: configuration, retries, keys, parsing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import stripe

from flowctory.adapters import stripe_gateway
from flowctory.adapters.stripe_gateway import StripeGateway, StripeKeys, read_keys, snapshot_from
from flowctory.errors import ConfigurationError, UpstreamError
from tests.billing.fake_stripe import FakeStripe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway(fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> StripeGateway:
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)  # keep the retry back-off short in tests
    return StripeGateway(
        StripeKeys(api_key=fake_stripe.api_key, webhook_secret="whsec_x"), api_base=fake_stripe.base_url
    )


def test_network_retries_reuse_the_same_idempotency_key(gateway, fake_stripe):
    # Given Stripe failing twice before answering
    fake_stripe.fail_next(500, 503)

    # When a customer is created
    customer_id = gateway.create_customer(user_id="u-1", idempotency_key="customer:u-1")

    # Then the client retried (max_network_retries) with one key, and one customer exists
    calls = fake_stripe.calls("POST", "/v1/customers")
    assert len(calls) == 3
    assert {call.headers["idempotency-key"] for call in calls} == {"customer:u-1"}
    assert list(fake_stripe.customers) == [customer_id]


def test_a_replayed_idempotency_key_returns_the_first_result(gateway, fake_stripe):
    first = gateway.create_customer(user_id="u-1", idempotency_key="customer:u-1")
    second = gateway.create_customer(user_id="u-1", idempotency_key="customer:u-1")

    assert first == second
    assert len(fake_stripe.customers) == 1


def test_stripe_refusing_the_key_is_an_upstream_error(fake_stripe):
    wrong = StripeGateway(StripeKeys(api_key="sk_test_wrong"), api_base=fake_stripe.base_url)

    with pytest.raises(UpstreamError) as failed:
        wrong.list_subscriptions("cus_1")

    assert failed.value.code == "stripe_error"
    assert "sk_test_wrong" not in failed.value.message


def test_subscriptions_are_listed_with_ended_ones_and_read_from_their_items(gateway, fake_stripe):
    # Given a customer with an ended and a live subscription
    fake_stripe.customers["cus_1"] = {"id": "cus_1", "metadata": {}}
    old, _ = fake_stripe.create_subscription("cus_1", "price_a")
    fake_stripe.cancel(old)
    new, _ = fake_stripe.create_subscription("cus_1", "price_b", status="trialing")

    # When they are listed
    snapshots = gateway.list_subscriptions("cus_1")

    # Then both come back, newest first, with the period end taken from the item (API >= 2025-03-31)
    assert [(s.id, s.status, s.price_id) for s in snapshots] == [
        (new, "trialing", "price_b"),
        (old, "canceled", "price_a"),
    ]
    assert snapshots[0].current_period_end == fake_stripe.subscriptions[new]["items"]["data"][0]["current_period_end"]
    assert snapshots[0].trial_end is not None
    (listing,) = fake_stripe.calls("GET", "/v1/subscriptions")
    assert listing.params == {"customer": "cus_1", "status": "all", "limit": "100"}


def test_snapshots_read_expanded_references_and_older_payload_shapes():
    snapshot = snapshot_from(
        {
            "id": "sub_1",
            "customer": {"id": "cus_9", "object": "customer"},
            "status": "active",
            "created": 10,
            "current_period_end": 99,
            "items": {"data": [{"price": "price_1"}]},
        }
    )

    assert (snapshot.customer_id, snapshot.price_id, snapshot.current_period_end) == ("cus_9", "price_1", 99)


def test_the_livemode_of_the_key_is_known():
    assert StripeGateway(StripeKeys(api_key="sk_live_1")).livemode
    assert StripeGateway(StripeKeys(api_key="rk_live_1")).livemode
    assert not StripeGateway(StripeKeys(api_key="sk_test_1")).livemode


def test_keys_never_appear_in_their_repr():
    keys = StripeKeys(api_key="sk_test_secret_value", webhook_secret="whsec_secret_value")

    assert "secret_value" not in repr(keys)


def test_keys_come_from_the_secret_and_blank_or_unset_means_billing_off(aws):
    secrets = boto3.client("secretsmanager")
    arn = aws.ref("StripeSecret")
    stripe_gateway.reset()
    assert read_keys(arn) == StripeKeys()  # the sandbox's blank keys

    unset = secrets.create_secret(Name="stripe-unset")["ARN"]  # a fresh deployment: no value yet
    assert read_keys(unset) == StripeKeys()

    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"api_key": " sk_test_1 ", "webhook_secret": "whsec_1"})
    )
    stripe_gateway.reset()
    assert read_keys(arn) == StripeKeys(api_key="sk_test_1", webhook_secret="whsec_1")

    for broken in ("sk_test_plain_string", json.dumps(["sk"]), json.dumps({"api_key": 5})):
        secrets.put_secret_value(SecretId=arn, SecretString=broken)
        stripe_gateway.reset()
        with pytest.raises(ConfigurationError) as refused:
            read_keys(arn)
        assert "sk_test" not in str(refused.value)
    stripe_gateway.reset()


def test_importing_the_handlers_does_not_import_stripe():
    # Cold starts are benchmarked: stripe (about 0.3 s) loads only when a request needs it.
    code = "import sys, functions.billing.app, functions.webhooks.app; print('stripe' in sys.modules)"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "flowctory")])}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"

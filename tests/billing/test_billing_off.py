"""No Stripe key (the sandbox default): billing is off, everyone is free, the routes say so, nothing calls Stripe."""

import json

import boto3

from tests.billing.conftest import table_items
from tests.billing.fake_stripe import FakeStripe, signature


def test_without_a_stripe_key_everyone_is_free_and_billing_routes_say_billing_is_off(
    aws, billing_off: FakeStripe, sign_in, stripe_sender
):
    # Given the sandbox's Stripe secret (blank keys) and a signed-in user
    browser = sign_in("u-off")

    # When they look at plans and at their subscription
    plans_status, plans = browser.call("GET", "/billing/plans")
    subscription_status, subscription = browser.call("GET", "/billing/subscription")

    # Then the plans are listed, none purchasable, and the user is on the free plan
    assert plans_status == 200 and plans["billing_enabled"] is False
    assert {plan["id"] for plan in plans["plans"]} == {"free", "creator", "studio"}
    assert not any(plan["purchasable"] for plan in plans["plans"])
    assert subscription_status == 200
    assert (subscription["billing_enabled"], subscription["plan"]["id"], subscription["status"]) == (
        False,
        "free",
        "none",
    )

    # When they try to pay, or open the portal, or Stripe (misconfigured) sends a webhook
    checkout = browser.call("POST", "/billing/checkout", {"plan": "creator"})
    portal = browser.call("POST", "/billing/portal")
    payload = json.dumps(billing_off.event("invoice.paid", {"id": "in_1", "customer": "cus_1"})).encode()
    webhook = stripe_sender.send_raw(payload, header=signature(payload, "whsec_anything"))

    # Then each answers clearly that billing is not configured, and nothing was written or sent to Stripe
    for status, body in (checkout, portal, webhook):
        assert (status, body["error"]["code"]) == (422, "billing_not_configured")
        assert body["error"]["message"] == (
            "Billing is not configured on this deployment: every account is on the free plan."
        )
    assert billing_off.requests == []
    assert not [item for item in table_items(aws) if item["sk"] in {"SUBSCRIPTION", "WEBHOOK", "STRIPE_CUSTOMER"}]


def test_a_key_without_a_webhook_secret_refuses_webhooks_instead_of_trusting_them(aws, billing_off, stripe_sender):
    from flowctory import billing_wiring

    # Given an API key but no webhook secret
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.ref("StripeSecret"),
        SecretString=json.dumps({"api_key": billing_off.api_key, "webhook_secret": ""}),
    )
    billing_wiring.reset()
    payload = json.dumps(billing_off.event("invoice.paid", {"id": "in_1", "customer": "cus_1"})).encode()

    # When a webhook arrives, even one "signed" with an empty secret
    status, body = stripe_sender.send_raw(payload, header=signature(payload, ""))

    # Then it is refused and nothing is recorded
    assert (status, body["error"]["code"]) == (422, "billing_not_configured")
    assert table_items(aws) == []

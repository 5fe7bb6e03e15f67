"""POST /webhooks/stripe: verified on the raw body, deduplicated on the event id, safe with bad input."""

import json
import time
from datetime import UTC, datetime, timedelta

import boto3

from flowctory.adapters import keys
from flowctory.adapters.webhook_ledger import DynamoWebhookLedger
from flowctory.domain.billing import WEBHOOK_LEASE, WEBHOOK_RECORD_TTL
from tests.billing.conftest import WEBHOOK_SECRET, table_items
from tests.billing.fake_stripe import signature
from tests.billing.test_checkout_flow import subscribe


def test_bad_signatures_are_refused_with_400_and_write_nothing(aws, billing_on, sign_in, stripe_sender):
    # Given a real event for a real subscriber
    browser = sign_in("u-sig")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    (event,) = billing_on.cancel(subscription_id)
    payload = json.dumps(event).encode()
    items_before = table_items(aws)
    fetches_before = len(billing_on.requests)
    now = int(time.time())
    forged = {
        "missing header": None,
        "empty header": "",
        "garbage header": "not-a-signature",
        "tampered body": signature(payload.replace(b"canceled", b"active__"), WEBHOOK_SECRET),
        "other secret": signature(payload, "whsec_someone_else"),
        "stale timestamp": signature(payload, WEBHOOK_SECRET, timestamp=now - 301),
        "future timestamp": signature(payload, WEBHOOK_SECRET, timestamp=now + 3600),
        "v0 scheme only": signature(payload, WEBHOOK_SECRET, scheme="v0"),
    }

    for case, header in forged.items():
        # When it arrives with a bad signature
        status, body = stripe_sender.send_raw(payload, header=header)

        # Then 400 (Stripe must not retry forever, and a 2xx would hide a misconfiguration)
        assert status == 400, case
        assert body["error"]["code"] in {"missing_signature", "invalid_signature"}, case

    # ... and nothing was read from Stripe or written: the user is still subscribed
    assert table_items(aws) == items_before
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "creator"
    assert len(billing_on.requests) == fetches_before


def test_a_signature_among_several_v1_is_accepted_during_a_secret_roll(billing_on, stripe_sender):
    payload = json.dumps(billing_on.event("checkout.session.expired", {"id": "cs_1", "mode": "subscription"})).encode()
    now = int(time.time())
    old = signature(payload, "whsec_old_secret", timestamp=now).split(",")[1]
    header = f"{signature(payload, WEBHOOK_SECRET, timestamp=now)},{old}"

    status, body = stripe_sender.send_raw(payload, header=header)

    assert (status, body["outcome"]) == (200, "processed")


def test_the_signature_is_checked_on_the_raw_bytes_even_when_base64_encoded(billing_on, stripe_sender):
    event = billing_on.event("checkout.session.expired", {"id": "cs_1", "mode": "subscription", "note": "café"})
    payload = json.dumps(event, ensure_ascii=False, indent=1).encode()

    status, body = stripe_sender.send_raw(payload, header=signature(payload, WEBHOOK_SECRET), base64_body=True)

    assert (status, body["outcome"]) == (200, "processed")


def test_malformed_bodies_with_a_valid_signature_are_refused_with_400(aws, billing_on, stripe_sender):
    for payload in [b"{not json", b"[]", b'{"id": "evt_1", "type": "invoice.paid"}', b'{"id": 7}']:
        status, body = stripe_sender.send_raw(payload, header=signature(payload, WEBHOOK_SECRET))

        assert status == 400, payload
        assert body["error"]["code"] == "malformed_event"
    assert table_items(aws) == []
    assert billing_on.requests == []


def test_a_redelivered_event_is_a_no_op(aws, billing_on, sign_in, stripe_sender):
    # Given a subscriber whose subscription Stripe then cancels
    browser = sign_in("u-dup")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    (deleted,) = billing_on.cancel(subscription_id)
    fetches_before = len(billing_on.calls("GET", "/v1/subscriptions"))

    # When Stripe delivers the event three times
    outcomes = stripe_sender.send_all([deleted, deleted, deleted])

    # Then it is processed once and acknowledged twice more without any work
    assert outcomes == ["processed", "duplicate", "duplicate"]
    assert len(billing_on.calls("GET", "/v1/subscriptions")) == fetches_before + 1
    # ... thanks to a record kept longer than Stripe retries (3 days), which expires by itself
    record = (
        boto3.resource("dynamodb").Table(aws.ref("AppTable")).get_item(Key=keys.webhook_key("stripe", deleted["id"]))
    )
    item = record["Item"]
    assert item["state"] == "done"
    assert item["event_type"] == "customer.subscription.deleted"
    assert int(item["expires_at"]) >= int((datetime.now(UTC) + timedelta(days=4)).timestamp())
    assert set(item) == {"pk", "sk", "state", "provider", "event_type", "received_at", "processed_at", "expires_at"}


def test_unknown_event_types_and_unknown_customers_are_acknowledged_and_ignored(aws, billing_on, stripe_sender):
    # Given events Stripe may send that concern nobody we know
    _, stranger_events = billing_on.create_subscription("cus_stranger", "price_flowctory_creator_monthly")
    unknown_type = billing_on.event("charge.dispute.created", {"id": "dp_1", "object": "dispute"})
    not_ours = billing_on.event("checkout.session.completed", {"id": "cs_x", "mode": "payment"})

    # When they arrive
    outcomes = stripe_sender.send_all([unknown_type, not_ours, *stranger_events])

    # Then each is acknowledged (so Stripe stops) and ignored: no billing state, not even a call to Stripe
    assert outcomes == ["ignored", "ignored", "ignored", "ignored"]
    assert not [item for item in table_items(aws) if not item["pk"].startswith("WEBHOOK#")]
    assert billing_on.requests == []


def test_a_failure_while_processing_releases_the_event_for_stripes_retry(aws, billing_on, sign_in, stripe_sender):
    import stripe

    # Given a subscriber, and Stripe's API failing when the cancellation event arrives
    browser = sign_in("u-retry")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    (deleted,) = billing_on.cancel(subscription_id)
    stripe.HTTPClient.INITIAL_DELAY, initial_delay = 0.01, stripe.HTTPClient.INITIAL_DELAY
    billing_on.fail_next(500, 500, 500)

    try:
        # When the event arrives, the fetch fails (after the client's own retries)
        status, body = stripe_sender.send(deleted)
    finally:
        stripe.HTTPClient.INITIAL_DELAY = initial_delay

    # Then the webhook fails (Stripe will redeliver), the plan is untouched, the claim is gone
    assert (status, body["error"]["code"]) == (502, "stripe_error")
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "creator"
    assert "Item" not in boto3.client("dynamodb").get_item(
        TableName=aws.ref("AppTable"),
        Key={name: {"S": value} for name, value in keys.webhook_key("stripe", deleted["id"]).items()},
    )
    # ... and Stripe's redelivery is processed
    assert stripe_sender.send_all([deleted]) == ["processed"]
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "free"


def test_an_event_being_processed_elsewhere_is_refused_until_its_lease_runs_out(
    aws, billing_on, sign_in, stripe_sender
):
    from flowctory import wiring

    # Given a delivery of an event that another invocation is processing right now
    browser = sign_in("u-busy")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    (deleted,) = billing_on.cancel(subscription_id)
    ledger = DynamoWebhookLedger(wiring.table(), retention=WEBHOOK_RECORD_TTL, lease=WEBHOOK_LEASE)
    assert ledger.claim("stripe", deleted["id"], event_type=deleted["type"], now=datetime.now(UTC)) == "claimed"

    # When Stripe delivers it again meanwhile
    status, body = stripe_sender.send(deleted)

    # Then it is refused (Stripe retries later) rather than processed twice or acknowledged unprocessed
    assert (status, body["error"]["code"]) == (409, "event_in_progress")
    # ... and once the other invocation's lease has run out (it crashed), a delivery takes over
    later = datetime.now(UTC) + WEBHOOK_LEASE + timedelta(seconds=1)
    assert ledger.claim("stripe", deleted["id"], event_type=deleted["type"], now=later) == "claimed"


def test_events_from_the_other_stripe_mode_are_ignored(billing_on, stripe_sender):
    event = billing_on.event("checkout.session.expired", {"id": "cs_1", "mode": "subscription"})

    assert stripe_sender.send({**event, "livemode": True})[1]["outcome"] == "ignored"
    assert stripe_sender.send(event)[1]["outcome"] == "processed"


def test_a_failed_payment_shows_a_notice_and_a_grace_period_until_it_is_paid(billing_on, sign_in, stripe_sender):
    # Given a subscriber whose renewal payment fails
    browser = sign_in("u-pastdue")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    stripe_sender.send_all(billing_on.set_status(subscription_id, "past_due"))

    # Then they keep their plan for a grace period, and are told how to pay
    body = browser.call("GET", "/billing/subscription")[1]
    assert (body["plan"]["id"], body["status"]) == ("creator", "past_due")
    assert body["grace_until"] is not None
    assert body["notice"]["kind"] == "payment_failed"
    assert body["notice"]["pay_url"].startswith("https://invoice.stripe.test/i/")

    # When the payment goes through on retry
    stripe_sender.send_all(billing_on.renew(subscription_id))

    # Then the notice is gone and the plan continues
    body = browser.call("GET", "/billing/subscription")[1]
    assert (body["plan"]["id"], body["status"], body["notice"], body["grace_until"]) == (
        "creator",
        "active",
        None,
        None,
    )


def test_a_deleted_customer_loses_the_paid_plan_and_late_events_are_ignored(aws, billing_on, sign_in, stripe_sender):
    # Given a subscriber whose Stripe customer is deleted (which cancels the subscription)
    browser = sign_in("u-gone")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    (customer_id,) = billing_on.customers
    events = billing_on.delete_customer(customer_id)
    deleted_subscription, deleted_customer = events

    # When only customer.deleted arrives first, then the late subscription event
    outcomes = stripe_sender.send_all([deleted_customer, deleted_subscription])

    # Then the user is on the free plan, the link to the customer is gone, the late event is ignored
    assert outcomes == ["processed", "ignored"]
    body = browser.call("GET", "/billing/subscription")[1]
    assert (body["plan"]["id"], body["status"]) == ("free", "canceled")
    assert not [item for item in table_items(aws) if item["pk"].startswith("STRIPE_CUSTOMER#")]
    assert all(item.get("customer_id") is None for item in table_items(aws) if item["sk"] == "SUBSCRIPTION")
    assert billing_on.subscriptions[subscription_id]["status"] == "canceled"


def test_a_trial_ending_soon_is_shown_while_the_trial_lasts(billing_on, sign_in, stripe_sender):
    # Given a user in a trial, and Stripe's reminder three days before it ends
    browser = sign_in("u-trial")
    url = browser.call("POST", "/billing/checkout", {"plan": "studio"})[1]["url"]
    events = billing_on.complete_checkout(url.rsplit("/", 1)[1], status="trialing")
    subscription = billing_on.subscriptions[events[-1]["data"]["object"]["subscription"]]
    reminder = billing_on.event("customer.subscription.trial_will_end", subscription)

    # When the reminder arrives before the other events
    stripe_sender.send_all([reminder, *events])

    # Then the user has the plan during the trial and is told when it ends
    body = browser.call("GET", "/billing/subscription")[1]
    trial_end = datetime.fromtimestamp(subscription["trial_end"], UTC)
    assert (body["plan"]["id"], body["status"]) == ("studio", "trialing")
    assert body["notice"]["kind"] == "trial_will_end"
    assert body["notice"]["message"].startswith(f"Your trial ends on {trial_end:%d %B %Y}.")

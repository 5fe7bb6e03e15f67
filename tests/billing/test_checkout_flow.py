"""Checkout -> Stripe webhook -> the plan changes; the Portal; refusals that change nothing."""

import json
from datetime import UTC, datetime

from tests.billing.conftest import table_items


def test_checkout_then_checkout_session_completed_changes_the_plan(aws, billing_on, sign_in, stripe_sender):
    # Given a signed-in user on the free plan
    browser = sign_in("u-checkout")
    status, before = browser.call("GET", "/billing/subscription")
    assert (status, before["plan"]["id"], before["status"]) == (200, "free", "none")

    # When they start a checkout for the creator plan
    status, body = browser.call("POST", "/billing/checkout", {"plan": "creator"})

    # Then they get Stripe's Checkout page, for a subscription to the creator price, for them
    assert status == 200, body
    assert body["url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    (session,) = billing_on.checkout_sessions.values()
    assert session["mode"] == "subscription"
    assert session["client_reference_id"] == "u-checkout"
    assert session["line_items_price"] == "price_flowctory_creator_monthly"
    assert session["success_url"] == "http://localhost:3000/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "http://localhost:3000/billing?checkout=cancelled"
    assert session["subscription_metadata"] == {"user_id": "u-checkout", "plan": "creator"}
    # ... and the plan has not changed yet: only Stripe's webhook changes it
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "free"

    # When the customer pays and Stripe sends checkout.session.completed (alone)
    events = billing_on.complete_checkout(session["id"])
    completed = [event for event in events if event["type"] == "checkout.session.completed"]
    assert stripe_sender.send_all(completed) == ["processed"]

    # Then the user is on the creator plan, active, until the end of the period
    status, after = browser.call("GET", "/billing/subscription")
    period_end = billing_on.subscriptions[session["subscription"]]["items"]["data"][0]["current_period_end"]
    assert status == 200
    assert after["plan"]["id"] == "creator"
    assert after["status"] == "active"
    assert datetime.fromisoformat(after["current_period_end"]) == datetime.fromtimestamp(period_end, UTC)
    assert after["usage"]["tiktok_accounts"] == {"used": 0, "allowed": 3}
    assert after["over_limit"] == []


def test_the_customer_is_created_once_and_reused(billing_on, sign_in):
    # Given a signed-in user
    browser = sign_in("u-once")

    # When they click "subscribe" twice
    first = browser.call("POST", "/billing/checkout", {"plan": "studio"})
    second = browser.call("POST", "/billing/checkout", {"plan": "studio"})

    # Then one customer exists, carrying only our opaque user id, and both clicks get the same page
    assert first[0] == second[0] == 200
    assert first[1]["url"] == second[1]["url"]
    assert len(billing_on.customers) == 1
    (customer,) = billing_on.customers.values()
    assert customer["metadata"] == {"user_id": "u-once"}
    # ... because every call carried a deterministic idempotency key
    checkout_calls = billing_on.calls("POST", "/v1/checkout/sessions")
    assert len({call.headers["idempotency-key"] for call in checkout_calls}) == 1
    assert checkout_calls[0].headers["idempotency-key"].startswith("checkout:u-once:price_flowctory_studio_monthly:")
    assert checkout_calls[0].params["customer"] == customer["id"]
    assert billing_on.calls("POST", "/v1/customers")[0].headers["idempotency-key"] == "customer:u-once"


def test_requests_carry_the_pinned_api_version_and_the_key_only_in_the_authorization_header(billing_on, sign_in):
    browser = sign_in("u-version")

    browser.call("POST", "/billing/checkout", {"plan": "creator"})

    for call in billing_on.requests:
        assert call.headers["stripe-version"] == "2026-10-28.endive"
        assert call.headers["authorization"] == f"Bearer {billing_on.api_key}"
        assert billing_on.api_key not in call.raw_body


def subscribe(fake, browser, sender, plan="creator"):
    status, body = browser.call("POST", "/billing/checkout", {"plan": plan})
    assert status == 200, body
    session_id = body["url"].rsplit("/", 1)[1]
    sender.send_all(fake.complete_checkout(session_id))
    return fake.checkout_sessions[session_id]["subscription"]


def test_checkout_for_the_plan_the_user_already_has_is_refused(billing_on, sign_in, stripe_sender):
    # Given a user on the creator plan
    browser = sign_in("u-again")
    subscribe(billing_on, browser, stripe_sender)
    sessions_before = len(billing_on.checkout_sessions)

    # When they try to buy it again, or another plan beside it
    same = browser.call("POST", "/billing/checkout", {"plan": "creator"})
    other = browser.call("POST", "/billing/checkout", {"plan": "studio"})

    # Then both are refused with a clear reason, and no second subscription can start
    assert same[0] == 409 and same[1]["error"]["code"] == "already_on_plan"
    assert "already on the Creator plan" in same[1]["error"]["message"]
    assert other[0] == 409 and other[1]["error"]["code"] == "subscription_exists"
    assert "billing portal" in other[1]["error"]["message"]
    assert len(billing_on.checkout_sessions) == sessions_before


def test_after_a_cancellation_the_user_can_subscribe_again(billing_on, sign_in, stripe_sender):
    browser = sign_in("u-back")
    subscription_id = subscribe(billing_on, browser, stripe_sender)
    stripe_sender.send_all(billing_on.cancel(subscription_id))
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "free"

    subscribe(billing_on, browser, stripe_sender, plan="studio")

    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "studio"
    assert len(billing_on.customers) == 1


BAD_CHECKOUTS = [
    (json.dumps({"plan": "platinum"}), 400, "unknown_plan"),
    (json.dumps({"plan": "free"}), 422, "free_plan"),
    (json.dumps({"plan": ""}), 422, "validation_error"),
    (json.dumps({"plan": "creator", "price": "price_cheap"}), 422, "validation_error"),
    (json.dumps({"plan": ["creator"]}), 422, "validation_error"),
    ('{"plan": "creator"', 400, "malformed_json"),
]


def test_bad_checkout_requests_are_refused_and_change_nothing(aws, billing_on, sign_in):
    # Given a signed-in user
    browser = sign_in("u-bad")
    items_before = table_items(aws)

    for raw, status, code in BAD_CHECKOUTS:
        # When they ask for a checkout with a bad body
        answer = browser.call("POST", "/billing/checkout", raw=raw)

        # Then a clear 4xx, nothing at Stripe, nothing in the table
        assert (answer[0], answer[1]["error"]["code"]) == (status, code), raw
        assert answer[1]["error"]["message"]
    assert billing_on.requests == []
    assert table_items(aws) == items_before


def test_billing_routes_need_a_signed_in_user(billing_on, sign_in, lambda_context):
    from functions.billing import app
    from sandbox.events import http_api_event
    from tests.billing.conftest import response_of

    for method, path in [("GET", "/billing/subscription"), ("POST", "/billing/portal")]:
        status, body = response_of(app.lambda_handler(http_api_event(method, path), lambda_context))
        assert status in {401, 403}, (path, body)
    # The plans are public (a pricing page needs them)
    assert response_of(app.lambda_handler(http_api_event("GET", "/billing/plans"), lambda_context))[0] == 200
    assert billing_on.requests == []


def test_checkout_without_the_csrf_header_is_refused(billing_on, sign_in):
    browser = sign_in("u-csrf")
    browser.headers.pop("x-csrf-token")

    status, body = browser.call("POST", "/billing/checkout", {"plan": "creator"})

    assert (status, body["error"]["code"]) == (403, "csrf_failed")
    assert billing_on.requests == []


def test_portal_opens_for_the_users_own_customer(billing_on, sign_in, stripe_sender):
    # Given a subscriber
    browser = sign_in("u-portal")
    subscribe(billing_on, browser, stripe_sender)
    (customer_id,) = billing_on.customers

    # When they open the billing portal
    status, body = browser.call("POST", "/billing/portal")

    # Then Stripe's portal opens for their customer, returning to the console
    assert status == 200
    (portal,) = billing_on.portal_sessions.values()
    assert body["url"] == portal["url"]
    assert portal["customer"] == customer_id
    assert portal["return_url"] == "http://localhost:3000/billing"


def test_portal_without_a_subscription_says_there_is_nothing_to_manage(billing_on, sign_in):
    status, body = sign_in("u-noportal").call("POST", "/billing/portal")

    assert (status, body["error"]["code"]) == (422, "no_billing_account")
    assert billing_on.requests == []


def test_stripe_failing_during_checkout_is_a_502_that_reveals_nothing(billing_on, sign_in, captured_logs, monkeypatch):
    import stripe

    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    browser = sign_in("u-down")
    billing_on.fail_next(500, 500, 500)

    status, body = browser.call("POST", "/billing/checkout", {"plan": "creator"})

    assert (status, body["error"]["code"]) == (502, "stripe_error")
    assert len(billing_on.calls("POST", "/v1/customers")) == 3  # the first try and two network retries
    assert billing_on.api_key not in json.dumps(body)
    assert billing_on.api_key not in captured_logs.getvalue()
    logged = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    assert {"operation": "create customer", "error_type": "APIError", "http_status": 500}.items() <= logged[0].items()

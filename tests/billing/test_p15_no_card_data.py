"""P15: payment details go to Stripe directly; Flowctory never stores (or logs, or asks for) card data."""

import json
import re
from typing import Any

from tests.billing.conftest import table_items

CARD_FIELDS = re.compile(r"card|last4|exp_month|exp_year|cvc|cvv|pan|iin|fingerprint|payment_method", re.IGNORECASE)
CARD_NUMBER = "4000002500003155"
CARD = {
    "brand": "visa",
    "last4": CARD_NUMBER[-4:],
    "exp_month": 12,
    "exp_year": 2031,
    "fingerprint": "Xt5EWLLDS7FJjR1c",
    "number": CARD_NUMBER,  # Stripe never sends this; if it ever came, we must still not keep it
    "iin": CARD_NUMBER[:6],
}


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for inner in value.values() for key in keys_of(inner)}
    if isinstance(value, list):
        return {key for inner in value for key in keys_of(inner)}
    return set()


def with_card_details(event: dict[str, Any]) -> dict[str, Any]:
    """What real payloads can carry about the card (expanded payment method, charge details)."""
    obj = event["data"]["object"]
    obj["payment_method_details"] = {"type": "card", "card": CARD}
    obj["default_payment_method"] = {"id": "pm_1", "object": "payment_method", "card": CARD}
    obj["customer_details"] = {"email": "creator@example.com", "name": "Cardholder Name"}
    return event


def test_p15_no_card_data_reaches_the_table_the_logs_or_the_api(aws, billing_on, sign_in, stripe_sender, captured_logs):
    from functions.billing import app as billing_app
    from functions.webhooks import app as webhooks_app

    # Given a user who subscribes through Checkout, and webhooks full of card details
    browser = sign_in("u-p15")
    status, body = browser.call("POST", "/billing/checkout", {"plan": "creator"})
    assert status == 200
    events = billing_on.complete_checkout(body["url"].rsplit("/", 1)[1])
    subscription_id = events[-1]["data"]["object"]["subscription"]
    events += billing_on.set_status(subscription_id, "past_due") + billing_on.renew(subscription_id)
    stripe_sender.send_all([with_card_details(event) for event in events])
    assert browser.call("GET", "/billing/subscription")[1]["plan"]["id"] == "creator"

    # Then no item of the table has a card field or a card number, anywhere in it
    items = table_items(aws)
    assert items
    stored = json.dumps(items, default=str)
    assert not {key for key in keys_of(json.loads(stored)) if CARD_FIELDS.search(key)}
    assert CARD_NUMBER not in stored and CARD["fingerprint"] not in stored and "Cardholder" not in stored

    # ... nor any log line
    logs = captured_logs.getvalue()
    assert logs
    assert CARD_NUMBER not in logs and CARD["fingerprint"] not in logs and "Cardholder" not in logs
    assert not {key for line in logs.splitlines() for key in keys_of(json.loads(line)) if CARD_FIELDS.search(key)}

    # ... and no request we sent to Stripe carried one: Checkout collects the card on Stripe's page
    for call in billing_on.requests:
        assert not {key for key in keys_of(call.params) if CARD_FIELDS.search(key)}, call.path

    # ... and no route of the API accepts or returns one
    for app in (billing_app.app, webhooks_app.app):
        schema = app.get_openapi_schema().model_dump(mode="json", by_alias=True)
        properties = {
            name
            for component in (schema.get("components") or {}).get("schemas", {}).values()
            for name in component.get("properties", {})
        }
        assert properties, "the schema lists the models"
        assert not {name for name in properties if CARD_FIELDS.search(name)}

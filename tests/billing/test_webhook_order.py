"""Stripe delivers at least once and in any order: every order, with duplicates, must end on the plan that
one in-order delivery gives.

The domain is driven through hundreds of random orders per scenario with in-memory adapters (fast), also
with deliveries interleaved with the changes themselves (events for early changes arriving before later
changes happen, as in production); then the whole path (signed HTTP event, webhooks handler, DynamoDB on
moto, stripe-python against the fake Stripe) through a few orders. Seeds are fixed: a failure names the
order to replay.
"""

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowctory import billing_wiring
from flowctory.domain import billing
from flowctory.domain.billing import BillingDeps, BillingRecord, entitlement_for
from flowctory.plans import load_catalog
from tests.billing.fake_stripe import FakeStripe
from tests.billing.fakes import InMemoryBillingRepository, InMemoryLedger, InProcessStripe

DEFAULT_CATALOG = load_catalog("")

STUDIO = "price_flowctory_studio_monthly"
DOMAIN_ORDERS_PER_SCENARIO = 150

Event = dict[str, Any]
Checkout = Callable[[str, str], list[Event]]
Lifecycle = Callable[[FakeStripe, str, Checkout], Iterator[list[Event]]]


def subscription_of(checkout_events: list[Event]) -> str:
    return str(checkout_events[-1]["data"]["object"]["subscription"])


def upgrade_then_cancel_at_period_end(fake: FakeStripe, user_id: str, checkout: Checkout) -> Iterator[list[Event]]:
    events = checkout(user_id, "creator")
    yield events
    yield fake.change_price(subscription_of(events), STUDIO)
    yield fake.set_cancel_at_period_end(subscription_of(events))


def cancel_then_subscribe_again(fake: FakeStripe, user_id: str, checkout: Checkout) -> Iterator[list[Event]]:
    events = checkout(user_id, "creator")
    yield events
    yield fake.cancel(subscription_of(events))
    yield checkout(user_id, "studio")


def payment_trouble_recovered_then_cancelled(
    fake: FakeStripe, user_id: str, checkout: Checkout
) -> Iterator[list[Event]]:
    events = checkout(user_id, "creator")
    yield events
    yield fake.set_status(subscription_of(events), "past_due")
    yield fake.renew(subscription_of(events))
    yield fake.cancel(subscription_of(events))


SCENARIOS: dict[str, tuple[Lifecycle, tuple[str, str, bool]]] = {
    # scenario: (lifecycle, (final plan, final status, cancel_at_period_end))
    "upgrade then cancel at period end": (upgrade_then_cancel_at_period_end, ("studio", "active", True)),
    "cancel then subscribe again": (cancel_then_subscribe_again, ("studio", "active", False)),
    "payment trouble, recovered, cancelled": (payment_trouble_recovered_then_cancelled, ("free", "canceled", False)),
}


def state_of(record: BillingRecord | None) -> tuple[str, str, bool, int | None]:
    """Plan, status, cancel_at_period_end, and the length of the period, as the API would show them."""
    entitlement = entitlement_for(record, DEFAULT_CATALOG, now=datetime.now(UTC))
    subscription = record.subscription if record else None
    period_end = subscription.current_period_end if subscription else None
    length = period_end - subscription.created if subscription and period_end else None
    return entitlement.plan.id, entitlement.status, entitlement.cancel_at_period_end, length


def shuffled_with_duplicates(events: list[Event], rng: random.Random) -> list[Event]:
    """Every event at least once, one or more twice, in a random order."""
    sent = events + [event for event in events if rng.random() < 0.3] + [rng.choice(events)]
    rng.shuffle(sent)
    return sent


class DomainRun:
    """One user's deliveries straight into the domain, with in-memory adapters and a clock that moves on."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.repository = InMemoryBillingRepository()
        self.deps = BillingDeps(
            repository=self.repository,
            catalog=DEFAULT_CATALOG,
            web_origin="https://app.test",
            stripe=InProcessStripe(fake),
        )
        self.ledger = InMemoryLedger()
        self.now = datetime(2026, 3, 1, tzinfo=UTC)
        self.outcomes: list[str] = []

    def checkout(self, user_id: str, plan: str) -> list[Event]:
        url = billing.start_checkout(self.deps, user_id=user_id, plan_id=plan, now=self.now)
        return self.fake.complete_checkout(url.rsplit("/", 1)[1])

    def deliver(self, events: list[Event]) -> None:
        for event in events:
            self.now += timedelta(milliseconds=1)
            payload = json.dumps(event).encode()
            outcome = billing.receive_stripe_webhook(
                self.deps, self.ledger, payload=payload, signature=None, now=self.now
            )
            self.outcomes.append(outcome)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_domain_ends_on_the_in_order_plan_whatever_the_order(scenario):
    lifecycle, expected = SCENARIOS[scenario]
    fake = FakeStripe()

    # Given the scenario delivered once, in order
    baseline = DomainRun(fake)
    baseline.deliver([event for step in lifecycle(fake, "u-in-order", baseline.checkout) for event in step])
    in_order = state_of(baseline.repository.get("u-in-order"))
    assert in_order[:3] == expected

    for seed in range(DOMAIN_ORDERS_PER_SCENARIO):
        rng = random.Random(f"{scenario}/{seed}")
        run = DomainRun(fake)
        user_id = f"u-{seed}"
        if seed % 2:
            # When all its events arrive after the facts, shuffled, some twice
            events = [event for step in lifecycle(fake, user_id, run.checkout) for event in step]
            run.deliver(shuffled_with_duplicates(events, rng))
        else:
            # When some events arrive while later changes are still to happen, shuffled, some twice
            pending: list[Event] = []
            for step in lifecycle(fake, user_id, run.checkout):
                pending += step
                rng.shuffle(pending)
                now_count = rng.randint(0, len(pending))
                run.deliver(pending[:now_count] + [event for event in pending[:now_count] if rng.random() < 0.2])
                pending = pending[now_count:]
            run.deliver(shuffled_with_duplicates(pending, rng) if pending else [])

        # Then the final state is the in-order one
        assert state_of(run.repository.get(user_id)) == in_order, f"{scenario}, seed {seed}"


def test_doubled_reversed_and_random_orders_through_the_webhook_end_on_the_in_order_plan(billing_on, stripe_sender):
    def checkout(user_id: str, plan: str) -> list[Event]:
        url = billing.start_checkout(billing_wiring.billing(), user_id=user_id, plan_id=plan, now=datetime.now(UTC))
        return billing_on.complete_checkout(url.rsplit("/", 1)[1])

    def final_state(user_id: str) -> tuple[str, str, bool, int | None]:
        return state_of(billing_wiring.entitlements().get(user_id))

    # The richest scenario (two subscriptions); the domain test above runs every scenario in many more orders
    for scenario in ("cancel then subscribe again",):
        lifecycle, expected = SCENARIOS[scenario]

        # Given the scenario's events delivered once, in order
        stripe_sender.send_all(
            [event for step in lifecycle(billing_on, f"{scenario}/in-order", checkout) for event in step]
        )
        in_order = final_state(f"{scenario}/in-order")
        assert in_order[:3] == expected

        # When the same lifecycle's events arrive all twice in reverse order, and in a random order with duplicates
        def randomly(events: list[Event], seed: str = scenario) -> list[Event]:
            return shuffled_with_duplicates(events, random.Random(seed))

        orders: dict[str, Callable[[list[Event]], list[Event]]] = {
            "all twice, reversed": lambda events: (events + events)[::-1],
            "random": randomly,
        }
        for name, order in orders.items():
            user_id = f"{scenario}/{name}"
            events = [event for step in lifecycle(billing_on, user_id, checkout) for event in step]
            outcomes = stripe_sender.send_all(order(events))

            # Then the final plan is the in-order one, and duplicates were acknowledged without work
            assert final_state(user_id) == in_order, f"{scenario}, {name}"
            assert outcomes.count("duplicate") == len(outcomes) - len(events)

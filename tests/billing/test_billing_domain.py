"""Billing rules without AWS or HTTP: entitlements, limits, what decides the plan, concurrent saves."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flowctory.domain import billing
from flowctory.domain.billing import (
    BillingDeps,
    BillingRecord,
    Entitlement,
    PlanLimitReached,
    SubscriptionSnapshot,
    Usage,
    current_subscription,
    ensure_can_connect_account,
    ensure_can_retry_post,
    ensure_can_schedule_post,
    entitlement_for,
    month_window,
    over_limits,
)
from flowctory.errors import Conflict
from flowctory.plans import load_catalog
from tests.billing.fake_stripe import FakeStripe
from tests.billing.fakes import InMemoryBillingRepository, InMemoryLedger, InProcessStripe

DEFAULT_CATALOG = load_catalog("")

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
CREATOR = "price_flowctory_creator_monthly"
STUDIO = "price_flowctory_studio_monthly"


def subscription(status: str = "active", *, price: str | None = CREATOR, **changes: object) -> SubscriptionSnapshot:
    base = SubscriptionSnapshot(
        id="sub_1",
        customer_id="cus_1",
        status=status,
        price_id=price,
        created=int((NOW - timedelta(days=40)).timestamp()),
        current_period_end=int((NOW + timedelta(days=10)).timestamp()),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def plan_of(snapshot: SubscriptionSnapshot | None, now: datetime = NOW) -> str:
    record = BillingRecord(user_id="u-1", customer_id="cus_1", subscription=snapshot)
    return entitlement_for(record, DEFAULT_CATALOG, now=now).plan.id


def test_the_plan_follows_the_subscription_status():
    # Paid while active or trialing, also when set to cancel at the period end
    assert plan_of(subscription("active")) == "creator"
    assert plan_of(subscription("trialing", price=STUDIO)) == "studio"
    assert plan_of(subscription("active", cancel_at_period_end=True)) == "creator"
    # Free without a subscription, once it ended, while unpaid, paused or awaiting its first payment
    assert plan_of(None) == "free"
    for status in ("canceled", "incomplete_expired", "unpaid", "paused", "incomplete", "some_future_status"):
        assert plan_of(subscription(status)) == "free", status
    # Free for a price this deployment does not sell (never guessed from metadata)
    assert plan_of(subscription("active", price="price_unknown")) == "free"


def test_a_past_due_subscription_keeps_its_plan_for_a_grace_period():
    past_due = subscription("past_due", current_period_end=int((NOW - timedelta(days=2)).timestamp()))

    during = entitlement_for(BillingRecord(user_id="u", subscription=past_due), DEFAULT_CATALOG, now=NOW)
    after = entitlement_for(
        BillingRecord(user_id="u", subscription=past_due), DEFAULT_CATALOG, now=NOW + timedelta(days=6)
    )

    assert (during.plan.id, during.grace_until) == (
        "creator",
        datetime.fromtimestamp(past_due.current_period_end or 0, UTC) + billing.PAST_DUE_GRACE,
    )
    assert (after.plan.id, after.status) == ("free", "past_due")


def entitled(plan_id: str) -> Entitlement:
    plan = DEFAULT_CATALOG.get(plan_id)
    assert plan is not None
    return Entitlement(plan=plan)


def test_connecting_one_account_more_than_the_plan_allows_is_refused_with_a_clear_message():
    ensure_can_connect_account(entitled("free"), connected_accounts=0)

    with pytest.raises(PlanLimitReached) as refused:
        ensure_can_connect_account(entitled("free"), connected_accounts=1)

    assert refused.value.code == "plan_limit_reached"
    assert (refused.value.limit, refused.value.allowed, refused.value.used) == ("tiktok_accounts", 1, 1)
    assert refused.value.message == (
        "Your Free plan allows 1 connected TikTok account and you have 1. "
        "Upgrade your plan, or disconnect an account to connect another."
    )
    ensure_can_connect_account(entitled("creator"), connected_accounts=2)


def test_scheduling_one_post_more_than_the_month_allows_is_refused_with_a_clear_message():
    ensure_can_schedule_post(entitled("free"), posts_in_month=9, scheduled_at=NOW)

    with pytest.raises(PlanLimitReached) as refused:
        ensure_can_schedule_post(entitled("free"), posts_in_month=10, scheduled_at=NOW)

    assert refused.value.limit == "posts_per_month"
    assert "allows 10 posts per month and you already have 10 scheduled for March 2026" in refused.value.message


def test_retrying_a_failed_post_beyond_the_retry_budget_is_refused():
    ensure_can_retry_post(entitled("creator"), retries_used=2)

    with pytest.raises(PlanLimitReached) as refused:
        ensure_can_retry_post(entitled("creator"), retries_used=3)

    assert "allows 3 retries per post" in refused.value.message


def test_month_windows_are_calendar_months_in_utc():
    assert month_window(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    paris_new_year = datetime(2027, 1, 1, 0, 30, tzinfo=UTC) + timedelta(hours=0)
    assert month_window(paris_new_year)[0] == datetime(2027, 1, 1, tzinfo=UTC)


def test_after_a_downgrade_the_user_is_told_what_is_over_the_limit_and_nothing_is_removed():
    usage = Usage(tiktok_accounts=3, posts_this_month=25, month="2026-03")

    found = over_limits(entitled("free"), usage)

    assert [(item.limit, item.used, item.allowed) for item in found] == [
        ("tiktok_accounts", 3, 1),
        ("posts_per_month", 25, 10),
    ]
    assert "They all stay connected and keep publishing; to connect another, disconnect 2" in found[0].message
    assert "Posts already scheduled are kept and still publish" in found[1].message
    assert over_limits(entitled("studio"), usage) == []


def test_the_subscription_that_decides_the_plan_depends_on_stripes_state_only():
    old_ended = subscription("canceled", id="sub_old", created=100)
    new_live = subscription("active", id="sub_new", created=200)
    newer_unpaid = subscription("incomplete", id="sub_newer", created=300)
    newest_ended = subscription("incomplete_expired", id="sub_newest", created=400)
    candidates = [old_ended, new_live, newer_unpaid, newest_ended]

    # A live subscription beats an ended one, an entitled one beats one awaiting payment, in any order
    for rotation in range(len(candidates)):
        rotated = candidates[rotation:] + candidates[:rotation]
        assert current_subscription(rotated) == new_live
        assert current_subscription(rotated[::-1]) == new_live
    assert current_subscription([old_ended, newest_ended]) == newest_ended
    assert current_subscription([]) is None


class SlowStripe(InProcessStripe):
    """Runs `meanwhile` while a fetch is on the wire: what that fetch returns was read before."""

    meanwhile = None

    def list_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        seen = super().list_subscriptions(customer_id)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return seen


def test_a_slow_fetch_cannot_overwrite_the_state_a_later_fetch_saved():
    # Given a creator subscriber
    fake = FakeStripe()
    repository = InMemoryBillingRepository()
    stripe = SlowStripe(fake)
    deps = BillingDeps(repository=repository, catalog=DEFAULT_CATALOG, web_origin="https://app.test", stripe=stripe)
    repository.link_customer("u-1", "cus_1")
    fake.customers["cus_1"] = {"id": "cus_1", "metadata": {}}
    subscription_id, _ = fake.create_subscription("cus_1", CREATOR)
    billing.sync_customer(deps, customer_id="cus_1", now=NOW)

    # When a delivery's fetch (started at t1) is slow, and meanwhile the user upgrades and another
    # delivery (started at t2, later) fetches and saves the upgrade
    def upgrade_and_deliver() -> None:
        fake.change_price(subscription_id, STUDIO)
        assert billing.sync_customer(deps, customer_id="cus_1", now=NOW + timedelta(seconds=2)) == "saved"

    stripe.meanwhile = upgrade_and_deliver
    result = billing.sync_customer(deps, customer_id="cus_1", now=NOW + timedelta(seconds=1))

    # Then the slow one's older view is dropped and the upgrade stays
    assert result == "stale"
    saved = repository.get("u-1")
    assert saved is not None and plan_of(saved.subscription) == "studio"


class RacingRepository(InMemoryBillingRepository):
    """Another delivery saves between our read and our write, once."""

    race = None

    def save_subscription(self, user_id, snapshot, *, fetched_at_ms, expected_version):  # type: ignore[no-untyped-def]
        if self.race is not None:
            race, self.race = self.race, None
            race()
        super().save_subscription(user_id, snapshot, fetched_at_ms=fetched_at_ms, expected_version=expected_version)


def test_a_save_that_loses_a_race_decides_again_against_what_the_winner_wrote():
    fake = FakeStripe()
    repository = RacingRepository()
    deps = BillingDeps(
        repository=repository, catalog=DEFAULT_CATALOG, web_origin="https://app.test", stripe=InProcessStripe(fake)
    )
    repository.link_customer("u-1", "cus_1")
    fake.customers["cus_1"] = {"id": "cus_1", "metadata": {}}
    fake.create_subscription("cus_1", CREATOR)
    winner = SubscriptionSnapshot(id="sub_w", customer_id="cus_1", status="active", price_id=STUDIO, created=1)

    def someone_saves_later_state() -> None:
        repository.save_subscription(
            "u-1", winner, fetched_at_ms=int((NOW + timedelta(seconds=5)).timestamp() * 1000), expected_version=None
        )

    repository.race = someone_saves_later_state

    # When our save collides with a save of a later fetch
    result = billing.sync_customer(deps, customer_id="cus_1", now=NOW)

    # Then ours is retried, found older, and dropped
    assert result == "stale"
    saved = repository.get("u-1")
    assert saved is not None and saved.subscription == winner


def test_a_save_that_keeps_losing_gives_up_with_a_conflict():
    fake = FakeStripe()

    class AlwaysRacing(InMemoryBillingRepository):
        def save_subscription(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise Conflict("The subscription changed meanwhile.")

    repository = AlwaysRacing()
    repository.link_customer("u-1", "cus_1")
    fake.customers["cus_1"] = {"id": "cus_1", "metadata": {}}
    fake.create_subscription("cus_1", CREATOR)
    deps = BillingDeps(
        repository=repository, catalog=DEFAULT_CATALOG, web_origin="https://app.test", stripe=InProcessStripe(fake)
    )

    with pytest.raises(Conflict):
        billing.sync_customer(deps, customer_id="cus_1", now=NOW)


def test_without_stripe_every_billing_action_says_billing_is_not_configured():
    deps = BillingDeps(repository=InMemoryBillingRepository(), catalog=DEFAULT_CATALOG, web_origin="https://app.test")

    for action in (
        lambda: billing.start_checkout(deps, user_id="u-1", plan_id="creator", now=NOW),
        lambda: billing.open_portal(deps, user_id="u-1"),
        lambda: billing.receive_stripe_webhook(deps, InMemoryLedger(), payload=b"{}", signature="t=1,v1=0", now=NOW),
    ):
        with pytest.raises(billing.BillingNotConfigured) as refused:
            action()
        assert refused.value.code == "billing_not_configured"

"""Billing rules: entitlements, plan limits, Checkout and Portal, and the Stripe webhook.

The plan a user is on is derived from the state of their Stripe subscriptions, never from the
content of a webhook event: each event only says "look again at this customer", the customer's
subscriptions are fetched from Stripe, the one that decides the plan is picked by a rule that
depends on Stripe's state alone (`current_subscription`), and it replaces what we hold only if it
was fetched later. Redelivered, duplicated and out-of-order events therefore all converge on the
same state. Events are deduplicated on their id for longer than Stripe retries (3 days).

Downgrades and cancellations never delete anything or cancel scheduled posts: the limits only
refuse new actions, and `subscription_overview` tells the user what is over the limit.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from flowctory.errors import BadRequest, Conflict, Forbidden, InvalidState
from flowctory.models.billing import StripeEvent
from flowctory.observability import logger
from flowctory.plans import Plan, PlanCatalog

GRANTING_STATUSES = frozenset({"active", "trialing"})
GRACE_STATUSES = frozenset({"past_due"})
# A subscription in one of these is over for good; any other status is the user's current one.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Checkout for a new subscription is refused while one of these exists (change it in the Portal).
BLOCKING_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "paused"})
PAST_DUE_GRACE = timedelta(days=7)
WEBHOOK_RECORD_TTL = timedelta(days=5)  # Stripe retries for up to 3 days
WEBHOOK_LEASE = timedelta(seconds=60)  # a crashed attempt's claim is taken over after this
SAVE_ATTEMPTS = 5
STRIPE = "stripe"

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
    }
)
CHECKOUT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"})
OTHER_HANDLED_EVENTS = frozenset({"customer.deleted", "checkout.session.expired"})
HANDLED_EVENTS = SUBSCRIPTION_EVENTS | CHECKOUT_EVENTS | INVOICE_EVENTS | OTHER_HANDLED_EVENTS


class BillingNotConfigured(InvalidState):
    """This deployment has no Stripe key: everyone is on the free plan."""

    code = "billing_not_configured"

    def __init__(self) -> None:
        super().__init__("Billing is not configured on this deployment: every account is on the free plan.")


class PlanLimitReached(Forbidden):
    """The user's plan does not allow one more of something; `limit` names which."""

    code = "plan_limit_reached"

    def __init__(self, message: str, *, limit: str, allowed: int, used: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.allowed = allowed
        self.used = used


# --- What the domain holds and what it needs --------------------------------------------------


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """A Stripe subscription as fetched from Stripe (periods come from its item, API >= 2025-03-31)."""

    id: str
    customer_id: str
    status: str
    price_id: str | None
    created: int
    current_period_end: int | None = None
    cancel_at_period_end: bool = False
    trial_end: int | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES


@dataclass(frozen=True)
class Notice:
    """Something the user must know about their billing, kept from the event that raised it."""

    kind: Literal["payment_failed", "payment_action_required", "trial_will_end"]
    event_created: int
    pay_url: str | None = None
    next_payment_attempt: int | None = None
    trial_end: int | None = None

    @property
    def message(self) -> str:
        if self.kind == "trial_will_end":
            ends = _utc(self.trial_end)
            when = f"on {ends:%d %B %Y}" if ends else "soon"
            return f"Your trial ends {when}. Add a payment method in the billing portal to keep your plan."
        if self.kind == "payment_action_required":
            return "Your bank asks you to confirm the last payment. Confirm it to keep your plan."
        return "The last payment failed. Update your payment method or pay the invoice to keep your plan."


@dataclass(frozen=True)
class BillingRecord:
    """The billing item of one user: their Stripe customer and their current subscription."""

    user_id: str
    customer_id: str | None = None
    subscription: SubscriptionSnapshot | None = None
    fetched_at_ms: int = 0
    version: int | None = None
    notice: Notice | None = None


class StripeApi(Protocol):
    """The calls billing makes to Stripe (adapters.stripe_gateway; a fake Stripe server in tests)."""

    @property
    def livemode(self) -> bool: ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]: ...

    def create_customer(self, *, user_id: str, idempotency_key: str) -> str: ...

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
    ) -> str: ...

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str: ...

    def list_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]: ...


class BillingRepository(Protocol):
    def get(self, user_id: str) -> BillingRecord | None: ...

    def user_for_customer(self, customer_id: str) -> str | None: ...

    def link_customer(self, user_id: str, customer_id: str) -> None: ...

    def unlink_customer(self, user_id: str, customer_id: str) -> None: ...

    def save_subscription(
        self, user_id: str, snapshot: SubscriptionSnapshot, *, fetched_at_ms: int, expected_version: int | None
    ) -> None: ...

    def save_notice(self, user_id: str, notice: Notice) -> None: ...


ClaimResult = Literal["claimed", "done", "busy"]


class WebhookLedger(Protocol):
    """Processed provider events, so that a redelivery is a no-op."""

    def claim(self, provider: str, event_id: str, *, event_type: str, now: datetime) -> ClaimResult: ...

    def complete(self, provider: str, event_id: str, *, now: datetime) -> None: ...

    def release(self, provider: str, event_id: str) -> None: ...


class UsageReader(Protocol):
    def connected_accounts(self, user_id: str) -> int: ...

    def posts_scheduled_between(self, user_id: str, start: datetime, end: datetime) -> int: ...


@dataclass(frozen=True)
class BillingDeps:
    repository: BillingRepository
    catalog: PlanCatalog
    web_origin: str
    stripe: StripeApi | None = None  # None: no Stripe key, billing is off

    @property
    def enabled(self) -> bool:
        return self.stripe is not None

    def require_stripe(self) -> StripeApi:
        """Raises: BillingNotConfigured: no Stripe key is configured."""
        if self.stripe is None:
            raise BillingNotConfigured()
        return self.stripe


# --- Entitlements and limits ------------------------------------------------------------------


@dataclass(frozen=True)
class Entitlement:
    """The plan a user may use now, and why."""

    plan: Plan
    status: str = "none"
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    grace_until: datetime | None = None


def _utc(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def entitlement_for(record: BillingRecord | None, catalog: PlanCatalog, *, now: datetime) -> Entitlement:
    """Derive the plan from the stored subscription state: paid while active or trialing, during a
    grace period while past due, free otherwise (also for an unknown status or a price we do not sell)."""
    subscription = record.subscription if record else None
    if subscription is None:
        return Entitlement(plan=catalog.free)
    period_end = _utc(subscription.current_period_end)
    base = Entitlement(
        plan=catalog.free,
        status=subscription.status,
        current_period_end=period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
    )
    paid_plan = catalog.for_price(subscription.price_id)
    if paid_plan is None:
        if subscription.status in GRANTING_STATUSES | GRACE_STATUSES:
            logger.error("subscription price is in no plan", price_id=subscription.price_id)
        return base
    if subscription.status in GRANTING_STATUSES:
        return replace(base, plan=paid_plan)
    if subscription.status in GRACE_STATUSES and period_end is not None:
        grace_until = period_end + PAST_DUE_GRACE
        if now < grace_until:
            return replace(base, plan=paid_plan, grace_until=grace_until)
    if subscription.status not in ENDED_STATUSES | GRACE_STATUSES | {"incomplete", "unpaid", "paused"}:
        logger.warning("unknown subscription status treated as not entitled", status=subscription.status)
    return base


def month_window(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) that contains `moment`, as [start, end)."""
    moment = moment.astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def ensure_can_connect_account(entitlement: Entitlement, *, connected_accounts: int) -> None:
    """Refuse connecting one more TikTok account beyond the plan.

    Raises:
        PlanLimitReached: `connected_accounts` already reaches the plan's limit.
    """
    allowed = entitlement.plan.limits.tiktok_accounts
    if connected_accounts >= allowed:
        raise PlanLimitReached(
            f"Your {entitlement.plan.name} plan allows {_plural(allowed, 'connected TikTok account')} and you "
            f"have {connected_accounts}. Upgrade your plan, or disconnect an account to connect another.",
            limit="tiktok_accounts",
            allowed=allowed,
            used=connected_accounts,
        )


def ensure_can_schedule_post(entitlement: Entitlement, *, posts_in_month: int, scheduled_at: datetime) -> None:
    """Refuse scheduling one more post in the calendar month (UTC) of `scheduled_at` beyond the plan.

    Raises:
        PlanLimitReached: `posts_in_month` (already scheduled that month) reaches the plan's limit.
    """
    allowed = entitlement.plan.limits.posts_per_month
    if posts_in_month >= allowed:
        month = month_window(scheduled_at)[0].strftime("%B %Y")
        raise PlanLimitReached(
            f"Your {entitlement.plan.name} plan allows {_plural(allowed, 'post')} per month and you already "
            f"have {posts_in_month} scheduled for {month}. Upgrade your plan, or schedule this post in another "
            "month.",
            limit="posts_per_month",
            allowed=allowed,
            used=posts_in_month,
        )


def ensure_can_retry_post(entitlement: Entitlement, *, retries_used: int) -> None:
    """Refuse one more manual retry of a failed post beyond the plan's retry budget.

    Raises:
        PlanLimitReached: the post has used every retry its plan allows.
    """
    allowed = entitlement.plan.limits.retries_per_post
    if retries_used >= allowed:
        raise PlanLimitReached(
            f"Your {entitlement.plan.name} plan allows {_plural(allowed, 'retry', 'retries')} per post and this "
            f"post has used {retries_used}. Upgrade your plan to retry it again, or schedule it as a new post.",
            limit="retries_per_post",
            allowed=allowed,
            used=retries_used,
        )


def load_entitlement(
    repository: BillingRepository, catalog: PlanCatalog, *, user_id: str, now: datetime
) -> Entitlement:
    """The plan `user_id` may use now (the free plan without a subscription)."""
    return entitlement_for(repository.get(user_id), catalog, now=now)


def check_can_connect_account(
    repository: BillingRepository, usage: UsageReader, catalog: PlanCatalog, *, user_id: str, now: datetime
) -> None:
    """What the TikTok connect route calls before starting a connection.

    Raises:
        PlanLimitReached: the user's plan allows no more connected accounts.
    """
    entitlement = load_entitlement(repository, catalog, user_id=user_id, now=now)
    ensure_can_connect_account(entitlement, connected_accounts=usage.connected_accounts(user_id))


def check_can_schedule_post(
    repository: BillingRepository,
    usage: UsageReader,
    catalog: PlanCatalog,
    *,
    user_id: str,
    scheduled_at: datetime,
    now: datetime,
) -> None:
    """What the create-post route calls before accepting a post for `scheduled_at`.

    Raises:
        PlanLimitReached: that month already holds as many posts as the plan allows.
    """
    entitlement = load_entitlement(repository, catalog, user_id=user_id, now=now)
    start, end = month_window(scheduled_at)
    used = usage.posts_scheduled_between(user_id, start, end)
    ensure_can_schedule_post(entitlement, posts_in_month=used, scheduled_at=scheduled_at)


@dataclass(frozen=True)
class OverLimit:
    limit: str
    used: int
    allowed: int
    message: str


@dataclass(frozen=True)
class Usage:
    tiktok_accounts: int
    posts_this_month: int
    month: str


def over_limits(entitlement: Entitlement, usage: Usage) -> list[OverLimit]:
    """What exceeds the plan after a downgrade or cancellation; nothing is deleted or cancelled for it."""
    limits = entitlement.plan.limits
    name = entitlement.plan.name
    found = []
    if usage.tiktok_accounts > limits.tiktok_accounts:
        extra = usage.tiktok_accounts - limits.tiktok_accounts
        found.append(
            OverLimit(
                limit="tiktok_accounts",
                used=usage.tiktok_accounts,
                allowed=limits.tiktok_accounts,
                message=(
                    f"You have {_plural(usage.tiktok_accounts, 'connected TikTok account')} and your {name} plan "
                    f"allows {limits.tiktok_accounts}. They all stay connected and keep publishing; to connect "
                    f"another, disconnect {extra} or upgrade."
                ),
            )
        )
    if usage.posts_this_month > limits.posts_per_month:
        found.append(
            OverLimit(
                limit="posts_per_month",
                used=usage.posts_this_month,
                allowed=limits.posts_per_month,
                message=(
                    f"You have {_plural(usage.posts_this_month, 'post')} scheduled this month and your {name} plan "
                    f"allows {limits.posts_per_month}. Posts already scheduled are kept and still publish; new "
                    "posts this month need an upgrade."
                ),
            )
        )
    return found


@dataclass(frozen=True)
class Overview:
    billing_enabled: bool
    entitlement: Entitlement
    usage: Usage
    over_limit: list[OverLimit]
    notice: Notice | None


def subscription_overview(deps: BillingDeps, usage: UsageReader, *, user_id: str, now: datetime) -> Overview:
    """The user's plan, its status, their usage against its limits, and anything they must act on."""
    record = deps.repository.get(user_id)
    entitlement = entitlement_for(record, deps.catalog, now=now)
    start, end = month_window(now)
    current = Usage(
        tiktok_accounts=usage.connected_accounts(user_id),
        posts_this_month=usage.posts_scheduled_between(user_id, start, end),
        month=start.strftime("%Y-%m"),
    )
    notice = record.notice if record else None
    return Overview(
        billing_enabled=deps.enabled,
        entitlement=entitlement,
        usage=current,
        over_limit=over_limits(entitlement, current),
        notice=notice if notice is not None and _notice_still_applies(notice, entitlement) else None,
    )


def _notice_still_applies(notice: Notice, entitlement: Entitlement) -> bool:
    """A notice shows only while the subscription is in the state it is about (a late or stale event
    cannot show a payment problem that has since been solved)."""
    if notice.kind == "trial_will_end":
        return entitlement.status == "trialing"
    return entitlement.status in {"past_due", "unpaid", "incomplete"}


# --- Checkout and Portal ----------------------------------------------------------------------


def start_checkout(deps: BillingDeps, *, user_id: str, plan_id: str, now: datetime) -> str:
    """A Stripe Checkout URL for `plan_id`; the plan changes only when Stripe's webhook says so.

    Raises:
        BillingNotConfigured: no Stripe key.
        BadRequest: no such plan.
        InvalidState: the free plan needs no checkout.
        Conflict: the user already has this plan, or another subscription to change in the Portal.
        UpstreamError: Stripe failed.
    """
    stripe = deps.require_stripe()
    plan = deps.catalog.get(plan_id)
    if plan is None:
        raise BadRequest("There is no such plan; GET /billing/plans lists them.", code="unknown_plan")
    if plan.is_free or plan.stripe_price_id is None:
        raise InvalidState(
            "The free plan needs no checkout. To leave a paid plan, cancel it in the billing portal.",
            code="free_plan",
        )
    record = deps.repository.get(user_id)
    if record and record.customer_id and record.subscription and record.subscription.status in BLOCKING_STATUSES:
        # Before refusing, make sure: the webhook that ended that subscription may still be on its way.
        _sync(deps, user_id=user_id, customer_id=record.customer_id, now=now)
        record = deps.repository.get(user_id)
    subscription = record.subscription if record else None
    if subscription is not None and subscription.status in BLOCKING_STATUSES:
        current = entitlement_for(record, deps.catalog, now=now)
        if current.plan.id == plan.id:
            raise Conflict(f"You are already on the {plan.name} plan.", code="already_on_plan")
        raise Conflict(
            "You already have a subscription. Change or cancel it in the billing portal.",
            code="subscription_exists",
        )
    customer_id = record.customer_id if record and record.customer_id else None
    if customer_id is None:
        # The same key for every attempt: concurrent or retried requests get the one customer.
        customer_id = stripe.create_customer(user_id=user_id, idempotency_key=f"customer:{user_id}")
        deps.repository.link_customer(user_id, customer_id)
    # Double clicks and retries within the hour get the same Checkout Session back from Stripe.
    idempotency_key = f"checkout:{user_id}:{plan.stripe_price_id}:{customer_id}:{now.astimezone(UTC):%Y%m%d%H}"
    return stripe.create_checkout_session(
        user_id=user_id,
        customer_id=customer_id,
        plan_id=plan.id,
        price_id=plan.stripe_price_id,
        success_url=f"{deps.web_origin}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{deps.web_origin}/billing?checkout=cancelled",
        idempotency_key=idempotency_key,
    )


def open_portal(deps: BillingDeps, *, user_id: str) -> str:
    """A Stripe Customer Portal URL for the user's own customer (never one named in the request).

    Raises:
        BillingNotConfigured: no Stripe key.
        InvalidState: the user has never subscribed, so there is nothing to manage.
        UpstreamError: Stripe failed.
    """
    stripe = deps.require_stripe()
    record = deps.repository.get(user_id)
    if record is None or record.customer_id is None:
        raise InvalidState("You have no subscription to manage yet.", code="no_billing_account")
    return stripe.create_portal_session(customer_id=record.customer_id, return_url=f"{deps.web_origin}/billing")


# --- Subscription state -----------------------------------------------------------------------


def _rank(snapshot: SubscriptionSnapshot) -> tuple[bool, bool, int, str]:
    entitled = snapshot.status in GRANTING_STATUSES | GRACE_STATUSES
    return (not snapshot.ended, entitled, snapshot.created, snapshot.id)


def current_subscription(subscriptions: list[SubscriptionSnapshot]) -> SubscriptionSnapshot | None:
    """The subscription that decides a customer's plan: a live one before an ended one, an entitled one
    before one awaiting payment, then the newest. A function of Stripe's state only, never of event order."""
    return max(subscriptions, key=_rank, default=None)


def supersedes(current: BillingRecord | None, *, fetched_at_ms: int) -> bool:
    """Whether state fetched at `fetched_at_ms` may replace what we hold: only if it is at least as recent.

    Every fetch starts after the event that triggered it reached us, hence after the change that
    event reports; so the fetch that starts last has seen every change, and it is the one kept.
    """
    return current is None or current.subscription is None or fetched_at_ms >= current.fetched_at_ms


SyncResult = Literal["saved", "stale", "unknown_customer", "no_subscription"]


def sync_customer(deps: BillingDeps, *, customer_id: str, now: datetime) -> SyncResult:
    """Fetch the customer's subscriptions from Stripe and keep the one that decides their plan.

    `now` must be taken after the event arrived and before this call (the request time is).
    Raises:
        UpstreamError: Stripe failed (the webhook then fails and Stripe redelivers it).
    """
    user_id = deps.repository.user_for_customer(customer_id)
    if user_id is None:
        logger.warning("event for a customer we do not know", customer_id=customer_id)
        return "unknown_customer"
    return _sync(deps, user_id=user_id, customer_id=customer_id, now=now)


def _sync(deps: BillingDeps, *, user_id: str, customer_id: str, now: datetime) -> SyncResult:
    fetched_at_ms = int(now.timestamp() * 1000)
    snapshot = current_subscription(deps.require_stripe().list_subscriptions(customer_id))
    if snapshot is None:
        return "no_subscription"
    return _save(deps, user_id, snapshot, fetched_at_ms=fetched_at_ms)


def _save(deps: BillingDeps, user_id: str, snapshot: SubscriptionSnapshot, *, fetched_at_ms: int) -> SyncResult:
    for _ in range(SAVE_ATTEMPTS):
        current = deps.repository.get(user_id)
        if not supersedes(current, fetched_at_ms=fetched_at_ms):
            return "stale"
        try:
            deps.repository.save_subscription(
                user_id,
                snapshot,
                fetched_at_ms=fetched_at_ms,
                expected_version=current.version if current else None,
            )
        except Conflict:
            continue  # another delivery saved meanwhile: decide again against what it wrote
        logger.info("subscription saved", user_id=user_id, status=snapshot.status, subscription_id=snapshot.id)
        return "saved"
    raise Conflict("The subscription kept changing while it was being saved.", code="busy")


# --- The webhook ------------------------------------------------------------------------------

WebhookOutcome = Literal["processed", "duplicate", "ignored"]


def receive_stripe_webhook(
    deps: BillingDeps,
    ledger: WebhookLedger,
    *,
    payload: bytes,
    signature: str | None,
    now: datetime,
) -> WebhookOutcome:
    """Verify a Stripe delivery, then process it once, whatever the order or number of deliveries.

    Nothing is read or written before the signature is verified. A failure while processing
    releases the event's claim and propagates, so that Stripe's retry processes it again.
    Raises:
        BillingNotConfigured: no Stripe key or webhook secret.
        BadRequest: bad, missing or stale signature, or a body that is not a Stripe event.
        Conflict: another delivery of the same event is being processed right now.
        UpstreamError: Stripe failed while the event was processed.
    """
    stripe = deps.require_stripe()
    raw_event = stripe.parse_webhook(payload, signature)
    try:
        event = StripeEvent.model_validate(raw_event)
    except ValidationError:
        raise BadRequest("The body is not a Stripe event.", code="malformed_event") from None
    # Context keys, not appended ones: a warm container must not log this event id on the next request.
    with logger.append_context_keys(stripe_event_id=event.id, stripe_event_type=event.type):
        return _process_once(deps, ledger, event, stripe=stripe, now=now)


def _process_once(
    deps: BillingDeps, ledger: WebhookLedger, event: StripeEvent, *, stripe: StripeApi, now: datetime
) -> WebhookOutcome:
    if event.livemode != stripe.livemode:
        logger.warning("event from the other Stripe mode ignored", event_livemode=event.livemode)
        return "ignored"
    claim = ledger.claim(STRIPE, event.id, event_type=event.type, now=now)
    if claim == "done":
        logger.info("duplicate webhook delivery acknowledged")
        return "duplicate"
    if claim == "busy":
        raise Conflict("This event is being processed; Stripe will deliver it again.", code="event_in_progress")
    try:
        outcome = _dispatch(deps, event, now=now)
    except Exception:
        logger.warning("webhook processing failed; the claim is released for Stripe's retry")
        ledger.release(STRIPE, event.id)
        raise
    ledger.complete(STRIPE, event.id, now=now)
    logger.info("webhook processed", outcome=outcome)
    return outcome


def _dispatch(deps: BillingDeps, event: StripeEvent, *, now: datetime) -> WebhookOutcome:
    """Every handled event only says "look again at this customer"; what it carries is not trusted
    for state, which comes from Stripe's API."""
    obj = event.data.object
    if event.type not in HANDLED_EVENTS:
        logger.info("unhandled event type acknowledged")
        return "ignored"
    if event.type == "checkout.session.expired":
        return "processed"  # nothing is pending on our side until Stripe confirms a subscription
    if event.type == "customer.deleted":
        return _on_customer_deleted(deps, obj)
    customer_id = _id_of(obj.get("customer"))
    user_id = deps.repository.user_for_customer(customer_id) if customer_id else None
    if customer_id is None or user_id is None:
        logger.warning("event for a customer we do not know", customer_id=customer_id)
        return "ignored"
    if event.type in CHECKOUT_EVENTS and not _checkout_is_ours(obj, user_id=user_id):
        return "ignored"
    _sync(deps, user_id=user_id, customer_id=customer_id, now=now)
    notice = _notice_of(event)
    if notice is not None:
        deps.repository.save_notice(user_id, notice)
    return "processed"


def _id_of(value: Any) -> str | None:
    """A Stripe reference is an id string, or the object itself when expanded."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def _checkout_is_ours(session: dict[str, Any], *, user_id: str) -> bool:
    """A subscription Checkout that we started: for the customer we created for that very user."""
    if session.get("mode") != "subscription" or session.get("client_reference_id") != user_id:
        logger.warning("checkout session that is not one of ours ignored")
        return False
    return True


def _notice_of(event: StripeEvent) -> Notice | None:
    obj = event.data.object
    if event.type in {"invoice.payment_failed", "invoice.payment_action_required"}:
        kind: Literal["payment_failed", "payment_action_required"] = (
            "payment_failed" if event.type == "invoice.payment_failed" else "payment_action_required"
        )
        pay_url = obj.get("hosted_invoice_url")
        return Notice(
            kind=kind,
            event_created=event.created,
            pay_url=pay_url if isinstance(pay_url, str) and pay_url.startswith("https://") else None,
            next_payment_attempt=_int_or_none(obj.get("next_payment_attempt")),
        )
    if event.type == "customer.subscription.trial_will_end":
        return Notice(kind="trial_will_end", event_created=event.created, trial_end=_int_or_none(obj.get("trial_end")))
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _on_customer_deleted(deps: BillingDeps, customer: dict[str, Any]) -> WebhookOutcome:
    """Deleting a customer cancels its subscriptions at once: record that, then forget the link, so that
    late events naming the customer are ignored without leaving a paid plan behind."""
    customer_id = _id_of(customer.get("id"))
    user_id = deps.repository.user_for_customer(customer_id) if customer_id else None
    if customer_id is None or user_id is None:
        return "ignored"
    for _ in range(SAVE_ATTEMPTS):
        record = deps.repository.get(user_id)
        held = record.subscription if record else None
        if record is None or held is None or held.ended:
            break
        ended = replace(held, status="canceled", cancel_at_period_end=False)
        try:
            deps.repository.save_subscription(
                user_id, ended, fetched_at_ms=record.fetched_at_ms, expected_version=record.version
            )
            break
        except Conflict:
            continue
    deps.repository.unlink_customer(user_id, customer_id)
    return "processed"

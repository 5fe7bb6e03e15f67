"""Billing API requests and responses, and the envelope of a Stripe webhook event.

No model here has a field for card data: card details go from the browser to Stripe Checkout or
the Customer Portal and never reach this backend (promise P15).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from flowctory.models.base import Model
from flowctory.plans import PlanLimits


class CheckoutRequest(Model):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=32, description="id of a paid plan from GET /billing/plans")


class RedirectResponse(Model):
    """A short-lived Stripe page to send the browser to; not to be stored or mailed."""

    url: str


class PlanView(Model):
    id: str
    name: str
    monthly_price_cents: int
    currency: str
    limits: PlanLimits
    purchasable: bool = Field(description="false for the free plan and whenever billing is not configured")


class PlansResponse(Model):
    billing_enabled: bool
    plans: list[PlanView]


class LimitUsage(Model):
    used: int
    allowed: int


class UsageView(Model):
    tiktok_accounts: LimitUsage
    posts_this_month: LimitUsage
    month: str = Field(description="the calendar month (UTC) posts are counted in, YYYY-MM")


class OverLimitView(Model):
    limit: str
    used: int
    allowed: int
    message: str


class NoticeView(Model):
    kind: Literal["payment_failed", "payment_action_required", "trial_will_end"]
    message: str
    pay_url: str | None = Field(default=None, description="Stripe's hosted invoice page, to pay or authenticate")


class SubscriptionResponse(Model):
    billing_enabled: bool
    plan: PlanView
    status: str = Field(description='"none" without a subscription, else the Stripe subscription status')
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    grace_until: datetime | None = Field(default=None, description="end of the grace period while a payment is due")
    usage: UsageView
    over_limit: list[OverLimitView]
    notice: NoticeView | None = None


class WebhookAck(Model):
    received: bool = True
    outcome: Literal["processed", "duplicate", "ignored"]


class StripeEventData(Model):
    object: dict[str, Any]


class StripeEvent(Model):
    """The fields of a (verified) Stripe v1 snapshot event that the handler reads."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$", max_length=255)
    type: str = Field(min_length=1, max_length=100)
    created: int
    livemode: bool
    data: StripeEventData

"""Plans and their limits: configuration, not code.

The catalogue comes from the `PLANS_JSON` environment variable (the template's `BillingPlans`
parameter, set in Globals so that every function enforces the same limits) and falls back to
DEFAULT_PLANS_DATA below when it is empty. An environment variable rather than a file in the package,
because Stripe price ids differ per Stripe account and between test and live mode: each stage sets
its own at deploy time without a code change. It is validated once per container, and a broken
catalogue fails loudly at first use instead of silently putting everyone on some plan.
"""

import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError, model_validator

from flowctory.errors import ConfigurationError

FREE_PLAN_ID = "free"


class PlanLimits(BaseModel):
    """What a plan allows; each limit is enforced where the action happens."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tiktok_accounts: NonNegativeInt = Field(description="TikTok accounts connected at the same time")
    posts_per_month: NonNegativeInt = Field(description="posts scheduled per calendar month (UTC)")
    retries_per_post: NonNegativeInt = Field(description="manual retries of a failed post")


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=60)
    stripe_price_id: str | None = Field(default=None, pattern=r"^price_[A-Za-z0-9_]+$")
    monthly_price_cents: NonNegativeInt = 0
    currency: str = Field(default="eur", pattern=r"^[a-z]{3}$")
    limits: PlanLimits

    @property
    def is_free(self) -> bool:
        return self.stripe_price_id is None


class PlanCatalog(BaseModel):
    """Exactly one free plan (no price) and any number of paid plans, each with its own Stripe price."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    plans: tuple[Plan, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "PlanCatalog":
        ids = [plan.id for plan in self.plans]
        if len(set(ids)) != len(ids):
            raise ValueError("plan ids must be unique")
        prices = [plan.stripe_price_id for plan in self.plans if plan.stripe_price_id]
        if len(set(prices)) != len(prices):
            raise ValueError("a Stripe price id may belong to one plan only")
        free = [plan for plan in self.plans if plan.is_free]
        if len(free) != 1 or free[0].id != FREE_PLAN_ID:
            raise ValueError(f"exactly one plan has no Stripe price, and its id is {FREE_PLAN_ID!r}")
        return self

    @property
    def free(self) -> Plan:
        return next(plan for plan in self.plans if plan.is_free)

    def get(self, plan_id: str) -> Plan | None:
        return next((plan for plan in self.plans if plan.id == plan_id), None)

    def for_price(self, price_id: str | None) -> Plan | None:
        """The paid plan sold at `price_id` (None for a price this catalogue does not sell)."""
        if not price_id:
            return None
        return next((plan for plan in self.plans if plan.stripe_price_id == price_id), None)


# The price ids are placeholders: each deployment sets its own through the BillingPlans parameter.
# Kept as data and validated on first use, so importing this module builds no model (cold start).
DEFAULT_PLANS_DATA: list[dict[str, Any]] = [
    {
        "id": FREE_PLAN_ID,
        "name": "Free",
        "limits": {"tiktok_accounts": 1, "posts_per_month": 10, "retries_per_post": 1},
    },
    {
        "id": "creator",
        "name": "Creator",
        "stripe_price_id": "price_flowctory_creator_monthly",
        "monthly_price_cents": 900,
        "limits": {"tiktok_accounts": 3, "posts_per_month": 120, "retries_per_post": 3},
    },
    {
        "id": "studio",
        "name": "Studio",
        "stripe_price_id": "price_flowctory_studio_monthly",
        "monthly_price_cents": 2900,
        "limits": {"tiktok_accounts": 10, "posts_per_month": 1000, "retries_per_post": 5},
    },
]


@lru_cache
def load_catalog(plans_json: str) -> PlanCatalog:
    """The catalogue described by `plans_json` (a JSON list of plans), or the defaults when it is blank.

    Raises:
        ConfigurationError: the JSON is not a valid catalogue (which rule it breaks, not its content).
    """
    try:
        plans = json.loads(plans_json) if plans_json.strip() else DEFAULT_PLANS_DATA
        return PlanCatalog.model_validate({"plans": plans})
    except (ValueError, ValidationError) as error:
        reason = error.errors()[0]["msg"] if isinstance(error, ValidationError) else "not valid JSON"
        raise ConfigurationError(f"PLANS_JSON is not a valid plan catalogue: {reason}") from None

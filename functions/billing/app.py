"""Billing API (API Gateway HTTP API): plans, Stripe Checkout and Customer Portal, the user's subscription."""

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import sessions, wiring
from flowctory.clock import utcnow
from flowctory.http import create_app
from flowctory.models.billing import (
    CheckoutRequest,
    LimitUsage,
    NoticeView,
    OverLimitView,
    PlansResponse,
    PlanView,
    RedirectResponse,
    SubscriptionResponse,
    UsageView,
)
from flowctory.observability import logger, metrics, tracer
from flowctory.plans import Plan

if TYPE_CHECKING:
    from flowctory.domain import billing

# The billing domain and its wiring (Stripe gateway, billing store) are imported inside the routes:
# importing this module stays within the cold-start budget (docs/build-and-bench.md).
app = create_app()
sessions.install(app, wiring.sessions)  # verifies and slides the session; CSRF and Origin on POST


def signed_in_user_id() -> str:
    """Raises: Unauthenticated: nobody is signed in."""
    return sessions.current_session(app).user_id


def _plan_view(plan: Plan, *, billing_enabled: bool) -> PlanView:
    return PlanView(
        id=plan.id,
        name=plan.name,
        monthly_price_cents=plan.monthly_price_cents,
        currency=plan.currency,
        limits=plan.limits,
        purchasable=billing_enabled and not plan.is_free,
    )


@app.get("/billing/plans")
@tracer.capture_method
def list_plans() -> PlansResponse:
    from flowctory import billing_wiring

    deps = billing_wiring.billing()
    return PlansResponse(
        billing_enabled=deps.enabled,
        plans=[_plan_view(plan, billing_enabled=deps.enabled) for plan in deps.catalog.plans],
    )


@app.get("/billing/subscription")
@tracer.capture_method
def get_subscription() -> SubscriptionResponse:
    from flowctory import billing_wiring
    from flowctory.domain import billing

    user_id = signed_in_user_id()
    deps = billing_wiring.billing()
    overview = billing.subscription_overview(deps, billing_wiring.usage(), user_id=user_id, now=utcnow())
    entitlement, usage, limits = overview.entitlement, overview.usage, overview.entitlement.plan.limits
    return SubscriptionResponse(
        billing_enabled=overview.billing_enabled,
        plan=_plan_view(entitlement.plan, billing_enabled=overview.billing_enabled),
        status=entitlement.status,
        current_period_end=entitlement.current_period_end,
        cancel_at_period_end=entitlement.cancel_at_period_end,
        grace_until=entitlement.grace_until,
        usage=UsageView(
            tiktok_accounts=LimitUsage(used=usage.tiktok_accounts, allowed=limits.tiktok_accounts),
            posts_this_month=LimitUsage(used=usage.posts_this_month, allowed=limits.posts_per_month),
            month=usage.month,
        ),
        over_limit=[OverLimitView(**item.__dict__) for item in overview.over_limit],
        notice=_notice_view(overview.notice),
    )


def _notice_view(notice: "billing.Notice | None") -> NoticeView | None:
    return None if notice is None else NoticeView(kind=notice.kind, message=notice.message, pay_url=notice.pay_url)


@app.post("/billing/checkout")
@tracer.capture_method
def start_checkout(body: CheckoutRequest) -> RedirectResponse:
    from flowctory import billing_wiring
    from flowctory.domain import billing

    user_id = signed_in_user_id()
    url = billing.start_checkout(billing_wiring.billing(), user_id=user_id, plan_id=body.plan, now=utcnow())
    metrics.add_metric(name="CheckoutStarted", unit="Count", value=1)
    return RedirectResponse(url=url)


@app.post("/billing/portal")
@tracer.capture_method
def open_portal() -> RedirectResponse:
    from flowctory import billing_wiring
    from flowctory.domain import billing

    user_id = signed_in_user_id()
    return RedirectResponse(url=billing.open_portal(billing_wiring.billing(), user_id=user_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)

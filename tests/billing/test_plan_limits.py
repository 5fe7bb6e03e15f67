"""Limits where they bite (what the connect and schedule routes call), and what a downgrade leaves in place."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from flowctory import billing_wiring, wiring
from flowctory.adapters.post_repository import post_to_item
from flowctory.adapters.tiktok_account_repository import account_to_item
from flowctory.domain import billing
from flowctory.domain.billing import PlanLimitReached
from flowctory.models.posts import PostStatus
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from tests.billing.test_checkout_flow import subscribe
from tests.helpers.posts import a_post


def connect_accounts(user_id: str, count: int) -> None:
    for index in range(count):
        account = TikTokAccount(
            user_id=user_id,
            open_id=f"open-{index}",
            display_name=f"Creator {index}",
            avatar_url="https://p16.tiktokcdn.test/a.jpg",
            scopes=("user.info.basic", "video.publish"),
            status=AccountStatus.RECONNECT_REQUIRED if index == 0 else AccountStatus.ACTIVE,
            connected_at=datetime.now(UTC),
        )
        wiring.table().put(account_to_item(account))


def schedule_posts(user_id: str, at: datetime, count: int, *, status: PostStatus = PostStatus.PENDING) -> None:
    for _ in range(count):
        post_id = f"p-{at:%m%d%H%M%S}-{status}-{_}"
        post = a_post(post_id, user_id=user_id, now=at, scheduled_at=at, status=status)
        wiring.table().put(post_to_item(post))


def check_connect(user_id: str) -> None:
    billing.check_can_connect_account(
        billing_wiring.entitlements(),
        billing_wiring.usage(),
        billing_wiring.catalog(),
        user_id=user_id,
        now=datetime.now(UTC),
    )


def check_schedule(user_id: str, at: datetime) -> None:
    billing.check_can_schedule_post(
        billing_wiring.entitlements(),
        billing_wiring.usage(),
        billing_wiring.catalog(),
        user_id=user_id,
        scheduled_at=at,
        now=datetime.now(UTC),
    )


def test_the_free_plan_refuses_a_second_account_and_an_eleventh_post_in_a_month(billing_off):
    # Given a free user with one account (needing a reconnect still counts) and ten posts this month
    now = datetime.now(UTC)
    this_month = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1)
    next_month = (this_month + timedelta(days=32)).replace(day=2)
    connect_accounts("u-free", 1)
    schedule_posts("u-free", this_month, 9)
    schedule_posts("u-free", this_month, 1, status=PostStatus.FAILED)
    schedule_posts("u-free", this_month, 3, status=PostStatus.CANCELLED)  # cancelled posts free their slot
    schedule_posts("u-free", next_month, 4)

    # When they connect one more account, or schedule one more post this month
    with pytest.raises(PlanLimitReached) as account_refused:
        check_connect("u-free")
    with pytest.raises(PlanLimitReached) as post_refused:
        check_schedule("u-free", this_month + timedelta(hours=3))

    # Then both are refused and say why and what to do; next month still has room
    assert account_refused.value.limit == "tiktok_accounts"
    assert "disconnect an account to connect another" in account_refused.value.message
    assert (post_refused.value.limit, post_refused.value.used, post_refused.value.allowed) == (
        "posts_per_month",
        10,
        10,
    )
    assert f"for {this_month:%B %Y}" in post_refused.value.message
    check_schedule("u-free", next_month + timedelta(days=3))


def test_a_limit_refusal_reaches_the_client_as_403_with_its_code(billing_off):
    from flowctory.http import create_app
    from sandbox.events import http_api_event

    app = create_app()

    @app.post("/probe")
    def probe() -> dict[str, str]:
        check_connect("u-http")
        return {"ok": "yes"}

    connect_accounts("u-http", 1)
    response = app.resolve(http_api_event("POST", "/probe"), None)

    assert response["statusCode"] == 403
    assert '"code":"plan_limit_reached"' in response["body"]


def test_a_downgrade_keeps_everything_and_says_what_is_over_the_limit(aws, billing_on, sign_in, stripe_sender):
    # Given a studio subscriber with four accounts and twelve posts this month
    browser = sign_in("u-down")
    subscription_id = subscribe(billing_on, browser, stripe_sender, plan="studio")
    connect_accounts("u-down", 4)
    now = datetime.now(UTC)
    schedule_posts("u-down", now.replace(day=1) + timedelta(hours=1), 12)
    check_connect("u-down")
    items_before = boto3.resource("dynamodb").Table(aws.ref("AppTable")).scan()["Count"]

    # When the subscription ends
    stripe_sender.send_all(billing_on.cancel(subscription_id))

    # Then the user is on the free plan, is told what exceeds it, and nothing was deleted or cancelled
    status, body = browser.call("GET", "/billing/subscription")
    assert (status, body["plan"]["id"], body["status"]) == (200, "free", "canceled")
    assert body["usage"]["tiktok_accounts"] == {"used": 4, "allowed": 1}
    assert body["usage"]["posts_this_month"] == {"used": 12, "allowed": 10}
    assert [item["limit"] for item in body["over_limit"]] == ["tiktok_accounts", "posts_per_month"]
    assert "They all stay connected and keep publishing" in body["over_limit"][0]["message"]
    assert "Posts already scheduled are kept and still publish" in body["over_limit"][1]["message"]
    table = boto3.resource("dynamodb").Table(aws.ref("AppTable"))
    assert table.scan()["Count"] >= items_before
    pending = [item for item in table.scan()["Items"] if item["sk"].startswith("POST#")]
    assert len(pending) == 12 and {item["status"] for item in pending} == {"pending"}
    # ... and only new actions beyond the free plan are refused
    with pytest.raises(PlanLimitReached):
        check_connect("u-down")

"""The daily warning that a TikTok account needs reconnecting before a scheduled post (issue 6), through
the purge function as its daily schedule invokes it, on moto, with the mail read back from SES."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from flowctory import publishing_wiring, wiring
from flowctory.adapters.accounts import DynamoAccountStore
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.models.accounts import UserProfile
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from functions.purge import app
from sandbox import outbox
from sandbox.template import load_template
from tests.helpers import posts

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
DAILY_EVENT = {"sweep": "reconnect_warnings"}


@pytest.fixture
def table(aws, function_env) -> SingleTable:
    function_env("PurgeFunction")
    wiring.reset()
    publishing_wiring.reset()
    return SingleTable(aws.ref("AppTable"))


def a_user(table: SingleTable, user_id: str, *, restricted: bool = False) -> None:
    DynamoAccountStore(table).create_user(
        UserProfile(
            user_id=user_id,
            email=f"{user_id}@example.com",
            name=user_id.title(),
            timezone="Europe/Paris",
            created_at=NOW,
            updated_at=NOW,
            age_attested_at=NOW,
            terms_accepted_at=NOW,
            policy_version="2026-11",
        )
    )
    if restricted:
        table.update({"pk": f"USER#{user_id}", "sk": "PROFILE"}, set_values={"restricted": True})


def an_account(
    table: SingleTable,
    user_id: str,
    open_id: str,
    *,
    status: AccountStatus = AccountStatus.ACTIVE,
    refresh_expires_at: datetime | None = NOW + timedelta(days=300),
) -> None:
    TikTokAccountRepository(table).save(
        TikTokAccount(
            user_id=user_id,
            open_id=open_id,
            display_name=f"@{open_id}",
            avatar_url="https://example.com/a.png",
            scopes=("user.info.basic", "video.publish"),
            status=status,
            connected_at=NOW - timedelta(days=30),
            refresh_expires_at=refresh_expires_at if status is AccountStatus.ACTIVE else None,
        )
    )


def a_post(table: SingleTable, user_id: str, open_id: str, post_id: str, *, in_hours: float) -> None:
    scheduled_at = NOW + timedelta(hours=in_hours)
    PostRepository(table).create(
        posts.a_post(post_id, user_id=user_id, open_id=open_id, now=NOW, scheduled_at=scheduled_at)
    )


def warnings_sent() -> list[dict]:
    return [mail for mail in outbox.sent_mail() if "Reconnect your TikTok account" in (mail["subject"] or "")]


def test_an_account_to_reconnect_before_a_scheduled_post_gets_one_mail_naming_it(table, lambda_context):
    # Given Ada's account revoked at TikTok with two posts coming, and Bob's healthy account with one
    a_user(table, "ada")
    an_account(table, "ada", "ada-main", status=AccountStatus.RECONNECT_REQUIRED)
    a_post(table, "ada", "ada-main", "p1", in_hours=5)
    a_post(table, "ada", "ada-main", "p2", in_hours=20)
    a_user(table, "bob")
    an_account(table, "bob", "bob-main")
    a_post(table, "bob", "bob-main", "p3", in_hours=3)

    # When the daily sweep runs
    with freeze_time(NOW):
        result = app.lambda_handler(DAILY_EVENT, lambda_context)

    # Then Ada alone is told, once, which account, when its first post is (in her timezone), and where to act
    assert result == {"reconnect_warnings_sent": 1, "accounts_checked": 2}
    [mail] = warnings_sent()
    assert mail["to"] == ["ada@example.com"]
    assert "@ada-main" in mail["subject"]
    assert "2 posts are scheduled" in mail["text"] and "2026-12-04 12:00 CET" in mail["text"]
    assert any(link.endswith("/accounts") for link in mail["links"])


def test_a_refresh_token_ending_before_the_post_is_warned_and_one_ending_after_is_not(table, lambda_context):
    # Given two accounts whose TikTok grant ends in 10 hours and in 3 days, each with a post in 12 hours
    a_user(table, "cleo")
    an_account(table, "cleo", "ends-soon", refresh_expires_at=NOW + timedelta(hours=10))
    an_account(table, "cleo", "ends-later", refresh_expires_at=NOW + timedelta(days=3))
    a_post(table, "cleo", "ends-soon", "p1", in_hours=12)
    a_post(table, "cleo", "ends-later", "p2", in_hours=12)

    with freeze_time(NOW):
        app.lambda_handler(DAILY_EVENT, lambda_context)

    assert [mail["subject"] for mail in warnings_sent()] == [
        "Reconnect your TikTok account @ends-soon before your next post"
    ]


def test_the_warning_is_sent_once_a_day_however_often_the_sweep_runs(table, lambda_context):
    # Given an account to reconnect with a post tomorrow
    a_user(table, "dan")
    an_account(table, "dan", "dan-main", status=AccountStatus.RECONNECT_REQUIRED)
    a_post(table, "dan", "dan-main", "p1", in_hours=30)

    # When the sweep runs twice (a retry, an overlap), then the next day
    with freeze_time(NOW):
        app.lambda_handler(DAILY_EVENT, lambda_context)
        app.lambda_handler(DAILY_EVENT, lambda_context)
    assert len(warnings_sent()) == 1
    with freeze_time(NOW + timedelta(days=1)):
        app.lambda_handler(DAILY_EVENT, lambda_context)

    # Then one mail a day while the post still waits
    assert len(warnings_sent()) == 2


def test_p25_no_warning_for_a_restricted_user_nor_for_posts_beyond_two_days_or_already_cancelled(table, lambda_context):
    # Given a restricted user with a revoked account and a post, and another user whose post is 3 days away
    a_user(table, "eve", restricted=True)
    an_account(table, "eve", "eve-main", status=AccountStatus.RECONNECT_REQUIRED)
    a_post(table, "eve", "eve-main", "p1", in_hours=2)
    a_user(table, "fay")
    an_account(table, "fay", "fay-main", status=AccountStatus.RECONNECT_REQUIRED)
    a_post(table, "fay", "fay-main", "p2", in_hours=72)
    a_post(table, "fay", "fay-main", "p3", in_hours=4)
    PostRepository(table).cancel("fay", "p3", now=NOW)

    with freeze_time(NOW):
        result = app.lambda_handler(DAILY_EVENT, lambda_context)

    assert warnings_sent() == []
    assert result["reconnect_warnings_sent"] == 0


def test_the_template_runs_the_warning_sweep_daily_on_the_purge_function():
    events = load_template()["Resources"]["PurgeFunction"]["Properties"]["Events"]
    daily = [event for event in events.values() if event["Properties"].get("ScheduleExpression") == "rate(1 day)"]
    assert len(daily) == 1
    assert json.loads(daily[0]["Properties"]["Input"]) == DAILY_EVENT

"""One EventBridge Scheduler schedule per post, on moto's Scheduler, in the template's schedule group."""

import json
from datetime import UTC, datetime

import boto3
import pytest

from flowctory.adapters.scheduler import PostScheduler, at_expression, schedule_name
from flowctory.errors import Conflict


@pytest.fixture
def scheduler(aws) -> PostScheduler:
    return PostScheduler(
        group=aws.ref("PostScheduleGroup"),
        target_arn=aws.function_arn("UploadFunction"),
        role_arn=aws.resolver.get_att("SchedulerRole", "Arn"),
        dead_letter_arn=aws.resolver.get_att("PublishDeadLetterQueue", "Arn"),
    )


def test_a_post_gets_one_schedule_that_invokes_the_upload_function_once(aws, scheduler):
    # Given a post due at 10:00 Paris time
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    # When it is scheduled
    scheduler.schedule(post_id="p1", user_id="u1", at=at, timezone="Europe/Paris")

    # Then its schedule fires once at that time, with the post's ids, retries and a dead-letter queue
    schedule = boto3.client("scheduler").get_schedule(Name=schedule_name("p1"), GroupName=aws.ref("PostScheduleGroup"))
    assert schedule["ScheduleExpression"] == "at(2027-03-01T10:00:00)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == aws.function_arn("UploadFunction")
    assert json.loads(schedule["Target"]["Input"]) == {"user_id": "u1", "post_id": "p1"}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith("PublishDeadLetterQueue")
    assert schedule["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] == 3600


def test_scheduling_the_same_post_twice_is_refused(scheduler):
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    scheduler.schedule(post_id="p1", user_id="u1", at=at, timezone="UTC")
    with pytest.raises(Conflict):
        scheduler.schedule(post_id="p1", user_id="u1", at=at, timezone="UTC")


def test_reschedule_moves_and_cancel_removes_idempotently(aws, scheduler):
    scheduler.schedule(post_id="p1", user_id="u1", at=datetime(2027, 3, 1, 9, 0, tzinfo=UTC), timezone="UTC")
    scheduler.reschedule(post_id="p1", user_id="u1", at=datetime(2027, 3, 2, 9, 30, tzinfo=UTC), timezone="UTC")
    client = boto3.client("scheduler")
    group = aws.ref("PostScheduleGroup")
    assert client.get_schedule(Name="post-p1", GroupName=group)["ScheduleExpression"] == "at(2027-03-02T09:30:00)"

    scheduler.cancel("p1")
    scheduler.cancel("p1")

    assert client.list_schedules(GroupName=group)["Schedules"] == []


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        # Summer time in Paris: UTC+2
        (datetime(2027, 7, 1, 8, 0, tzinfo=UTC), "Europe/Paris", ("at(2027-07-01T10:00:00)", "Europe/Paris")),
        # 02:30 on 31 Oct 2027 happens twice in Paris (clocks go back at 03:00): written in UTC
        (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "Europe/Paris", ("at(2027-10-31T00:30:00)", "UTC")),
        (datetime(2027, 10, 31, 1, 30, tzinfo=UTC), "Europe/Paris", ("at(2027-10-31T01:30:00)", "UTC")),
        # Seconds are kept, microseconds dropped
        (
            datetime(2027, 1, 5, 12, 0, 7, 999, tzinfo=UTC),
            "America/New_York",
            ("at(2027-01-05T07:00:07)", "America/New_York"),
        ),
    ],
)
def test_at_expression_keeps_the_utc_instant_across_dst(instant, zone, expected):
    assert at_expression(instant, zone) == expected

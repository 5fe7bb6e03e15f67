"""EventBridge Scheduler: one one-time schedule per post, targeting the upload function.

Each schedule is named after its post, so creating it twice fails instead of publishing twice;
it carries an explicit retry policy and the dead-letter queue, and deletes itself once it fired.
"""

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from flowctory.adapters import aws
from flowctory.errors import Conflict

# Scheduler retries delivery (the Lambda Invoke call) with back-off; function errors are then the
# function's own async retries (template EventInvokeConfig). An hour of delivery retries covers a
# Lambda throttle or outage without publishing a post long after its time.
DELIVERY_RETRY_POLICY = {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}


def at_expression(instant: datetime, timezone: str) -> tuple[str, str]:
    """`at(...)` and its timezone for `instant`, written in the user's zone when that is unambiguous.

    A wall-clock time that a DST change repeats or skips would be read differently by Scheduler,
    so those instants are written in UTC instead: the post fires at its UTC instant either way.
    """
    utc_instant = instant.astimezone(UTC).replace(microsecond=0)
    local = utc_instant.astimezone(ZoneInfo(timezone))
    other_fold = local.replace(fold=1 - local.fold)
    if other_fold.astimezone(UTC) != utc_instant:
        local, timezone = utc_instant, "UTC"
    return f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})", timezone


def schedule_name(post_id: str) -> str:
    return f"post-{post_id}"


class PostScheduler:
    def __init__(self, *, group: str, target_arn: str, role_arn: str, dead_letter_arn: str) -> None:
        self._group = group
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn

    def _definition(self, *, post_id: str, user_id: str, at: datetime, timezone: str) -> dict[str, Any]:
        expression, expression_timezone = at_expression(at, timezone)
        return {
            "Name": schedule_name(post_id),
            "GroupName": self._group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": expression_timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self._target_arn,
                "RoleArn": self._role_arn,
                "Input": json.dumps({"user_id": user_id, "post_id": post_id}),
                "RetryPolicy": DELIVERY_RETRY_POLICY,
                "DeadLetterConfig": {"Arn": self._dead_letter_arn},
            },
        }

    def schedule(self, *, post_id: str, user_id: str, at: datetime, timezone: str) -> None:
        """Raises:
        Conflict: the post already has a schedule.
        """
        try:
            aws.scheduler().create_schedule(
                **self._definition(post_id=post_id, user_id=user_id, at=at, timezone=timezone)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConflictException":
                raise Conflict("This post is already scheduled.") from error
            raise

    def follow_up(self, *, post_id: str, user_id: str, at: datetime, label: str) -> bool:
        """One more run of the upload function for a post (a long wait, a retry, a sweep), at `at`.

        Named after the post and `label`, so asking twice for the same follow-up creates one.
        Returns False when that follow-up already exists.
        """
        definition = self._definition(post_id=post_id, user_id=user_id, at=at, timezone="UTC")
        definition["Name"] = f"{schedule_name(post_id)}-{label}"[:64]
        try:
            aws.scheduler().create_schedule(**definition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConflictException":
                return False
            raise
        return True

    def reschedule(self, *, post_id: str, user_id: str, at: datetime, timezone: str) -> None:
        """Move the post's schedule; one already gone (fired, or lost) is created again (a run that finds
        the post no longer waiting does nothing)."""
        definition = self._definition(post_id=post_id, user_id=user_id, at=at, timezone=timezone)
        try:
            aws.scheduler().update_schedule(**definition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            aws.scheduler().create_schedule(**definition)

    def cancel(self, post_id: str) -> None:
        """Delete the post's schedule; a schedule already gone (fired, or cancelled before) is fine."""
        try:
            aws.scheduler().delete_schedule(Name=schedule_name(post_id), GroupName=self._group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise

"""The scheduler runner fires moto's EventBridge Scheduler schedules as AWS would (moto never does)."""

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from sandbox.scheduler import SchedulerRunner
from tests.sandbox import functions

pytestmark = pytest.mark.e2e

ROLE_ARN = "arn:aws:iam::123456789012:role/flowctory-local-SchedulerRole"
FUTURE = datetime(2030, 6, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 08:00 UTC (summer time)


def create_at_schedule(sandbox, name, when, *, target_arn, payload, timezone="Europe/Paris", **extra):
    sandbox.client("scheduler").create_schedule(
        Name=name,
        GroupName=sandbox.stack.ref("PostScheduleGroup"),
        ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone=timezone,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": target_arn,
            "RoleArn": ROLE_ARN,
            "Input": payload if isinstance(payload, str) else json.dumps(payload),
            "DeadLetterConfig": {"Arn": sandbox.stack.resolver.get_att("PublishDeadLetterQueue", "Arn")},
        },
        **extra,
    )


def runner(sandbox, **options) -> SchedulerRunner:
    """A runner of our own, driven by a fake clock (the sandbox's own runner uses the real one)."""
    return SchedulerRunner(sandbox.client("scheduler"), sandbox.client("sqs"), sandbox.runtime, **options)


def dead_letters(sandbox) -> list[dict]:
    sqs = sandbox.client("sqs")
    url = sandbox.stack.ref("PublishDeadLetterQueue")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return messages.get("Messages", [])


def schedule_exists(sandbox, name) -> bool:
    try:
        sandbox.client("scheduler").get_schedule(Name=name, GroupName=sandbox.stack.ref("PostScheduleGroup"))
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


def test_at_schedule_fires_on_time_with_the_exact_input_and_is_then_deleted(sandbox):
    # Given a one-time schedule two seconds ahead, in Paris time, whose Input is not trivial JSON
    payload = {"user_id": "u-1", "post_id": "p-été-🎬", "nested": {"n": [1, 2.5, None, True]}}
    due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)  # 2 to 3 s
    name = f"post-{time.time_ns()}"
    create_at_schedule(
        sandbox,
        name,
        due.astimezone(ZoneInfo("Europe/Paris")),
        target_arn=functions.arn("RecordFunction"),
        payload=payload,
        ActionAfterCompletion="DELETE",
    )

    # When the sandbox's runner (real clock, background thread) reaches that time
    deadline = time.monotonic() + 10
    while not [event for event in functions.events_of("record") if event == payload] and time.monotonic() < deadline:
        time.sleep(0.05)

    # Then the target got exactly the Input, no earlier than due, once, and the schedule is gone
    fired = [entry for entry in functions.received if entry["function"] == "record" and entry["event"] == payload]
    assert len(fired) == 1
    assert fired[0]["at"] >= due.timestamp()
    assert fired[0]["at"] - due.timestamp() < 2
    deadline = time.monotonic() + 3
    while schedule_exists(sandbox, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not schedule_exists(sandbox, name)


def test_at_schedule_fires_in_its_own_timezone_and_only_once(sandbox):
    # Given a schedule at 10:00 Paris time that is kept after completion
    payload = {"post_id": "p-tz"}
    create_at_schedule(sandbox, "post-tz", FUTURE, target_arn=functions.arn("RecordFunction"), payload=payload)
    clock = runner(sandbox)

    # When the runner ticks just before and at 08:00 UTC, then again later
    before = clock.tick(datetime(2030, 6, 1, 7, 59, 59, tzinfo=UTC))
    at_time = clock.tick(datetime(2030, 6, 1, 8, 0, 0, tzinfo=UTC))
    later = clock.tick(datetime(2030, 6, 1, 9, 0, 0, tzinfo=UTC))

    # Then it fired exactly once, at 08:00 UTC, and the schedule remains
    assert [o.status for o in before if o.schedule.endswith("post-tz")] == []
    assert [o.status for o in at_time if o.schedule.endswith("post-tz")] == ["succeeded"]
    assert [o.status for o in later if o.schedule.endswith("post-tz")] == []
    assert functions.events_of("record").count(payload) == 1
    assert schedule_exists(sandbox, "post-tz")


def test_rate_schedule_fires_every_period_without_bursting_after_a_pause(sandbox):
    # Given a rate(5 minutes) schedule
    scheduler = sandbox.client("scheduler")
    scheduler.create_schedule(
        Name="every-five",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": functions.arn("RecordFunction"), "RoleArn": ROLE_ARN, "Input": '{"tick": true}'},
    )
    created = scheduler.get_schedule(Name="every-five")["CreationDate"]
    clock = runner(sandbox)

    def fired_at(minutes: float) -> int:
        outcomes = clock.tick(created + timedelta(minutes=minutes))
        return len([o for o in outcomes if o.schedule == "default/every-five" and o.status == "succeeded"])

    # When time passes: before the first period, at it, within the second, at the second, after a long pause
    fired = [fired_at(minutes) for minutes in (4.9, 5, 6, 10, 31, 34, 35)]

    # Then it fired at 5 and 10 minutes, once after the pause (30), then at 35
    assert fired == [0, 1, 0, 1, 1, 0, 1]
    assert functions.events_of("record").count({"tick": True}) == 4


def test_unknown_target_and_bad_input_go_to_the_dead_letter_queue_and_the_runner_keeps_going(sandbox):
    # Given, due at the same time, a schedule whose target does not exist, one whose Input is not JSON,
    # and a valid one
    missing = "arn:aws:lambda:eu-west-3:123456789012:function:no-such-function"
    create_at_schedule(sandbox, "post-missing", FUTURE, target_arn=missing, payload={"post_id": "lost"})
    create_at_schedule(sandbox, "post-garbled", FUTURE, target_arn=functions.arn("RecordFunction"), payload="{oops")
    create_at_schedule(sandbox, "post-valid", FUTURE, target_arn=functions.arn("RecordFunction"), payload={"ok": 1})

    # When the runner ticks at that time
    outcomes = runner(sandbox).tick(FUTURE.astimezone(UTC))

    # Then both undeliverable events are dead-lettered with their reason, and the valid one ran
    statuses = {o.schedule.split("/")[1]: o.status for o in outcomes if "/post-" in o.schedule}
    assert statuses == {"post-missing": "dead_lettered", "post-garbled": "dead_lettered", "post-valid": "succeeded"}
    messages = {
        m["MessageAttributes"]["SCHEDULE_ARN"]["StringValue"].rsplit("/", 1)[1]: m for m in dead_letters(sandbox)
    }
    assert set(messages) == {"post-missing", "post-garbled"}
    lost = messages["post-missing"]
    assert json.loads(lost["Body"]) == {"post_id": "lost"}
    assert lost["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "ResourceNotFoundException"
    assert lost["MessageAttributes"]["TARGET_ARN"]["StringValue"] == missing
    assert (
        messages["post-garbled"]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "InvalidRequestContentException"
    )
    assert {"ok": 1} in functions.events_of("record")


def test_failing_target_is_retried_like_lambda_then_dead_lettered(sandbox):
    # Given a schedule whose target always fails, and Lambda's asynchronous retry delays
    create_at_schedule(sandbox, "post-failing", FUTURE, target_arn=functions.arn("FailingFunction"), payload={"n": 1})
    clock = runner(sandbox, retry_delays=(60, 120))
    start = FUTURE.astimezone(UTC)
    before = len(functions.events_of("failing"))

    # When the runner ticks at the due time and then as the retries come due
    timeline = {seconds: clock.tick(start + timedelta(seconds=seconds)) for seconds in (0, 59, 60, 179, 180)}

    # Then: first attempt, retry after 60 s, retry after 120 more, then the dead-letter queue
    statuses = {
        seconds: [o.status for o in outcomes if o.function_id == "FailingFunction"]
        for seconds, outcomes in timeline.items()
    }
    assert statuses == {
        0: ["retry_scheduled"],
        59: [],
        60: ["retry_scheduled"],
        179: [],
        180: ["dead_lettered"],
    }
    assert len(functions.events_of("failing")) - before == 3
    (message,) = dead_letters(sandbox)
    assert json.loads(message["Body"]) == {"n": 1}
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "Lambda.Unhandled"
    assert "always fails" in message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert clock.pending == 0


def test_failing_target_with_an_on_failure_destination_gets_lambdas_record(sandbox):
    # Given a function whose EventInvokeConfig sends failures to the dead-letter queue
    create_at_schedule(
        sandbox, "post-dest", FUTURE, target_arn=functions.arn("FailingToQueueFunction"), payload={"n": 2}
    )
    clock = runner(sandbox, retry_delays=(0,))
    start = FUTURE.astimezone(UTC)

    # When all its attempts fail
    outcomes = [
        o.status
        for seconds in (0, 1, 2)
        for o in clock.tick(start + timedelta(seconds=seconds))
        if o.function_id == "FailingToQueueFunction"
    ]

    # Then the destination gets Lambda's failure record with the original payload
    assert outcomes == ["retry_scheduled", "retry_scheduled", "dead_lettered"]
    (message,) = dead_letters(sandbox)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"n": 2}
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_the_templates_purge_sweep_runs_the_real_purge_handler(sandbox):
    # Given the purge schedule that the bootstrap created from the template (rate(15 minutes))
    purge = sandbox.client("scheduler").get_schedule(Name="flowctory-local-purge-sweep")

    # When 15 minutes have passed
    outcomes = runner(sandbox).tick(purge["CreationDate"] + timedelta(minutes=15))

    # Then the real PurgeFunction ran, against the sandbox's bucket, and succeeded
    assert [(o.function_id, o.status) for o in outcomes] == [("PurgeFunction", "succeeded")]


def test_disabled_schedules_do_not_fire(sandbox):
    create_at_schedule(
        sandbox, "post-off", FUTURE, target_arn=functions.arn("RecordFunction"), payload={"off": 1}, State="DISABLED"
    )
    outcomes = runner(sandbox).tick(FUTURE.astimezone(UTC) + timedelta(minutes=1))
    assert [o for o in outcomes if o.schedule.endswith("post-off")] == []

"""Fires the EventBridge Scheduler schedules stored in moto, which moto itself never fires.

Each `tick(now)` lists every schedule of every group and delivers the due ones:

- `at(yyyy-mm-ddThh:mm:ss)` in the schedule's ScheduleExpressionTimezone fires once, when due;
  with ActionAfterCompletion=DELETE the schedule is then deleted, otherwise it stays and does
  not fire again (unless it is updated);
- `rate(n minutes|hours|days)` fires every period from StartDate (or its creation), until
  EndDate; after a pause longer than a period it fires once, not once per missed period;
- DISABLED schedules are skipped; `cron(...)` and malformed expressions (moto accepts anything)
  are reported once in the log and skipped.

Delivery follows AWS, where Scheduler invokes Lambda asynchronously:
- the target ARN must name a function of the local stack, and Target.Input must be JSON; if not,
  delivery fails for good (as it does on AWS: neither error is retryable), the reason is logged and
  a message goes to Target.DeadLetterConfig's queue, shaped like Scheduler's (body: the Input;
  attributes ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID, RETRY_ATTEMPTS, SCHEDULE_ARN, TARGET_ARN);
- the handler gets json.loads(Target.Input), as Lambda does. When it raises, the invocation is
  retried like Lambda's asynchronous invocations: MaximumRetryAttempts of the function's
  EventInvokeConfig (Lambda's default, 2, without one), after `retry_delays` (Lambda waits about
  1 then 2 minutes), within MaximumEventAgeInSeconds. When the retries are spent, a Lambda
  destination record goes to the function's OnFailure destination; a function without one
  falls back to Target.DeadLetterConfig (on AWS that event would simply be dropped; locally a
  visible message is more useful). Target.RetryPolicy governs retryable delivery errors on AWS
  (throttling, service errors), which an in-process delivery does not have.

The runner keeps going whatever one schedule does. Firing state lives in memory: moto does not
persist anything either.
"""

import heapq
import itertools
import json
import logging
import re
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

from flowctory.clock import Clock, utcnow
from sandbox.runtime import FunctionRuntime, FunctionSpec

log = logging.getLogger("sandbox.scheduler")

AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
LAMBDA_RETRY_DELAYS = (60.0, 120.0)

Status = Literal["succeeded", "retry_scheduled", "dead_lettered", "dropped"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery or one invocation attempt during a tick."""

    schedule: str
    status: Status
    function_id: str | None = None
    attempt: int = 0
    detail: str = ""


@dataclass(order=True)
class _Invocation:
    due: datetime
    sequence: int
    function_id: str = field(compare=False)
    event: Any = field(compare=False)
    schedule: dict[str, Any] = field(compare=False)
    first_attempt: datetime = field(compare=False)
    execution_id: str = field(compare=False)
    attempt: int = field(default=0, compare=False)


class SchedulerRunner:
    """Polls moto's schedules and invokes their targets through the function runtime."""

    def __init__(
        self,
        scheduler_client: Any,
        sqs_client: Any,
        runtime: FunctionRuntime,
        *,
        clock: Clock = utcnow,
        retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS,
    ) -> None:
        self._scheduler = scheduler_client
        self._sqs = sqs_client
        self._runtime = runtime
        self._clock = clock
        self._retry_delays = retry_delays or (0.0,)
        self._fired_once: dict[str, str] = {}
        self._last_rate_fire: dict[str, tuple[str, datetime]] = {}
        self._pending: list[_Invocation] = []
        self._pending_lock = threading.Lock()  # the gateway's threads queue Lambda invocations too
        self._sequence = itertools.count()
        self._warned: set[tuple[str, str]] = set()

    def tick(self, now: datetime | None = None) -> list[Outcome]:
        """Deliver the schedules due at `now`, then run the invocations (and retries) that are due."""
        now = now or self._clock()
        outcomes = []
        for schedule in self._schedules():
            try:
                if self._is_due(schedule, now):
                    outcomes.extend(self._deliver(schedule, now))
            except Exception as error:
                log.exception("schedule %s could not be handled", _label(schedule))
                outcomes.append(Outcome(_label(schedule), "dropped", detail=str(error)))
        outcomes.extend(self._run_pending(now))
        return outcomes

    def invoke_async(self, function_arn: str, event: Any) -> str | None:
        """Lambda's asynchronous Invoke (InvocationType Event): run at the next tick, with the function's
        retries and on-failure destination, like a schedule's invocation. The request id, or None for a
        function the local stack does not have."""
        spec = self._runtime.function_for_arn(function_arn)
        if spec is None:
            return None
        now = self._clock()
        request_id = str(uuid.uuid4())
        source = {
            "GroupName": "lambda",
            "Name": f"invoke-{spec.function_id}",
            "Arn": "",
            "Target": {"Arn": spec.arn, "Input": json.dumps(event)},
        }
        log.info("asynchronous invocation of %s queued", spec.function_id)
        self._push(_Invocation(now, next(self._sequence), spec.function_id, event, source, now, request_id))
        return request_id

    def _push(self, invocation: _Invocation) -> None:
        with self._pending_lock:
            heapq.heappush(self._pending, invocation)

    def _pop_due(self, now: datetime) -> _Invocation | None:
        with self._pending_lock:
            return heapq.heappop(self._pending) if self._pending and self._pending[0].due <= now else None

    @property
    def pending(self) -> int:
        """Invocations waiting for their retry."""
        return len(self._pending)

    def _schedules(self) -> list[dict[str, Any]]:
        schedules = []
        groups = self._scheduler.get_paginator("list_schedule_groups").paginate()
        for group in (item["Name"] for page in groups for item in page["ScheduleGroups"]):
            pages = self._scheduler.get_paginator("list_schedules").paginate(GroupName=group)
            for summary in (item for page in pages for item in page["Schedules"]):
                try:
                    schedules.append(self._scheduler.get_schedule(GroupName=group, Name=summary["Name"]))
                except ClientError as error:
                    if error.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise  # a schedule deleted between the list and the get is simply gone
        return schedules

    def _is_due(self, schedule: dict[str, Any], now: datetime) -> bool:
        if schedule.get("State", "ENABLED") != "ENABLED":
            return False
        arn, expression = schedule["Arn"], schedule["ScheduleExpression"].strip()
        version = f"{expression}|{schedule.get('LastModificationDate')}"
        at = AT.fullmatch(expression)
        if at:
            try:
                zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
            except (ZoneInfoNotFoundError, ValueError):
                self._warn_once(
                    arn, f"unknown ScheduleExpressionTimezone {schedule.get('ScheduleExpressionTimezone')!r}"
                )
                return False
            due = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone)
            return due <= now and self._fired_once.get(arn) != version
        rate = RATE.fullmatch(expression)
        if rate:
            period = timedelta(seconds=int(rate.group(1)) * RATE_UNITS[rate.group(2).rstrip("s")])
            if period <= timedelta(0):
                self._warn_once(arn, f"a rate of zero is not a schedule: {expression}")
                return False
            previous = self._last_rate_fire.get(arn)
            anchor = previous[1] if previous and previous[0] == version else _utc(schedule.get("StartDate"))
            anchor = anchor or _utc(schedule["CreationDate"]) or now
            next_fire: datetime = anchor + period
            end = _utc(schedule.get("EndDate"))
            if end is not None and next_fire > end:
                return False
            if next_fire > now:
                return False
            missed = (now - next_fire) // period
            self._last_rate_fire[arn] = (version, next_fire + missed * period)
            return True
        kind = "cron expressions are not run by the sandbox" if expression.startswith("cron(") else "malformed"
        self._warn_once(arn, f"{kind}: {expression}")
        return False

    def _deliver(self, schedule: dict[str, Any], now: datetime) -> list[Outcome]:
        target = schedule["Target"]
        execution_id = str(uuid.uuid4())
        outcomes = []
        spec = self._runtime.function_for_arn(target["Arn"])
        if AT.fullmatch(schedule["ScheduleExpression"].strip()):
            self._fired_once[schedule["Arn"]] = (
                f"{schedule['ScheduleExpression'].strip()}|{schedule.get('LastModificationDate')}"
            )
        if spec is None:
            reason = f"Function not found: {target['Arn']}"
            outcomes.append(self._scheduler_dead_letter(schedule, execution_id, "ResourceNotFoundException", reason))
        else:
            try:
                event = json.loads(target.get("Input") or "{}")
            except json.JSONDecodeError as error:
                reason = f"Target.Input is not JSON: {error}"
                outcomes.append(
                    self._scheduler_dead_letter(schedule, execution_id, "InvalidRequestContentException", reason)
                )
            else:
                log.info("schedule %s fired: invoking %s", _label(schedule), spec.function_id)
                invocation = _Invocation(
                    due=now,
                    sequence=next(self._sequence),
                    function_id=spec.function_id,
                    event=event,
                    schedule=schedule,
                    first_attempt=now,
                    execution_id=execution_id,
                )
                self._push(invocation)
        if schedule.get("ActionAfterCompletion") == "DELETE" and AT.fullmatch(schedule["ScheduleExpression"].strip()):
            self._delete(schedule)
        return outcomes

    def _run_pending(self, now: datetime) -> list[Outcome]:
        outcomes = []
        while (invocation := self._pop_due(now)) is not None:
            spec = self._runtime.functions[invocation.function_id]
            label = _label(invocation.schedule)
            try:
                self._runtime.invoke(invocation.function_id, invocation.event, request_id=invocation.execution_id)
            except Exception as error:
                outcomes.append(self._after_failure(invocation, spec, error, now))
                continue
            outcomes.append(Outcome(label, "succeeded", invocation.function_id, invocation.attempt))
        return outcomes

    def _after_failure(self, invocation: _Invocation, spec: FunctionSpec, error: Exception, now: datetime) -> Outcome:
        label = _label(invocation.schedule)
        detail = f"{type(error).__name__}: {error}"
        age = (now - invocation.first_attempt).total_seconds()
        if invocation.attempt < spec.async_retries and age < spec.max_event_age_seconds:
            delay = self._retry_delays[min(invocation.attempt, len(self._retry_delays) - 1)]
            log.warning(
                "%s failed on attempt %d (%s); retrying in %.0f s",
                spec.function_id,
                invocation.attempt + 1,
                detail,
                delay,
            )
            invocation.attempt += 1
            invocation.due = now + timedelta(seconds=delay)
            invocation.sequence = next(self._sequence)
            self._push(invocation)
            return Outcome(label, "retry_scheduled", spec.function_id, invocation.attempt, detail)
        condition = "RetriesExhausted" if invocation.attempt >= spec.async_retries else "EventAgeExceeded"
        log.error("%s failed %d time(s) (%s): %s", spec.function_id, invocation.attempt + 1, condition, detail)
        if spec.on_failure_arn:
            record = _destination_record(spec, invocation, error, condition, now)
            sent = self._send(spec.on_failure_arn, json.dumps(record), {})
        else:
            attributes = _scheduler_attributes(
                invocation.schedule, invocation.execution_id, "Lambda.Unhandled", detail, invocation.attempt
            )
            dead_letter = invocation.schedule["Target"].get("DeadLetterConfig", {}).get("Arn")
            sent = bool(dead_letter) and self._send(dead_letter, _input(invocation.schedule), attributes)
        return Outcome(label, "dead_lettered" if sent else "dropped", spec.function_id, invocation.attempt, detail)

    def _scheduler_dead_letter(self, schedule: dict[str, Any], execution_id: str, code: str, reason: str) -> Outcome:
        log.error("schedule %s cannot be delivered: %s", _label(schedule), reason)
        dead_letter = schedule["Target"].get("DeadLetterConfig", {}).get("Arn")
        attributes = _scheduler_attributes(schedule, execution_id, code, reason, 0)
        if dead_letter and self._send(dead_letter, _input(schedule), attributes):
            return Outcome(_label(schedule), "dead_lettered", detail=reason)
        log.error("schedule %s has no usable dead-letter queue; the event is dropped", _label(schedule))
        return Outcome(_label(schedule), "dropped", detail=reason)

    def _send(self, queue_arn: str, body: str, attributes: dict[str, str]) -> bool:
        parts = queue_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            log.error("dead-letter destination %s is not an SQS queue; the sandbox only delivers to SQS", queue_arn)
            return False
        try:
            url = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            self._sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )
        except ClientError:
            log.exception("could not send to the dead-letter queue %s", queue_arn)
            return False
        return True

    def _delete(self, schedule: dict[str, Any]) -> None:
        try:
            self._scheduler.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        self._fired_once.pop(schedule["Arn"], None)

    def _warn_once(self, arn: str, message: str) -> None:
        if (arn, message) not in self._warned:
            self._warned.add((arn, message))
            log.warning("schedule %s is skipped: %s", arn, message)


def _utc(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _label(schedule: dict[str, Any]) -> str:
    return f"{schedule.get('GroupName', 'default')}/{schedule.get('Name', '?')}"


def _input(schedule: dict[str, Any]) -> str:
    return str(schedule["Target"].get("Input") or "{}")


def _scheduler_attributes(
    schedule: dict[str, Any], execution_id: str, code: str, message: str, retries: int
) -> dict[str, str]:
    return {
        "ERROR_CODE": code,
        "ERROR_MESSAGE": message[:1000],
        "EXECUTION_ID": execution_id,
        "RETRY_ATTEMPTS": str(retries),
        "SCHEDULE_ARN": schedule["Arn"],
        "TARGET_ARN": schedule["Target"]["Arn"],
    }


def _destination_record(
    spec: FunctionSpec, invocation: _Invocation, error: Exception, condition: str, now: datetime
) -> dict[str, Any]:
    """The record Lambda sends to an OnFailure destination after an asynchronous invocation fails."""
    return {
        "version": "1.0",
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": invocation.execution_id,
            "functionArn": f"{spec.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invocation.attempt + 1,
        },
        "requestPayload": invocation.event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": invocation.execution_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        },
    }

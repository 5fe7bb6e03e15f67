"""Lambda's asynchronous Invoke of a local function, answered by the sandbox (sandbox/lambda_invoke.py)."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.sandbox import functions


def wait_for_events(function: str, count: int, seconds: float = 10) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = functions.events_of(function)
        if len(events) >= count:
            return events
        time.sleep(0.05)
    raise AssertionError(f"{function} got {len(functions.events_of(function))} event(s), not {count}")


def test_an_asynchronous_invoke_by_arn_or_name_runs_the_function_with_its_event(sandbox):
    # Given the Lambda client a function uses to start another one
    client = sandbox.client("lambda")
    before = len(functions.events_of("record"))

    # When it invokes a local function asynchronously, by ARN and by name
    by_arn = client.invoke(
        FunctionName=functions.arn("RecordFunction"), InvocationType="Event", Payload=json.dumps({"n": 1}).encode()
    )
    by_name = client.invoke(
        FunctionName=functions.arn("RecordFunction").rsplit(":", 1)[1],
        InvocationType="Event",
        Payload=json.dumps({"n": 2}).encode(),
    )

    # Then Lambda's answer comes back at once, and the function runs each event once (at the runner's tick)
    assert (by_arn["StatusCode"], by_name["StatusCode"]) == (202, 202)
    assert wait_for_events("record", before + 2)[before:] == [{"n": 1}, {"n": 2}]


def test_an_unknown_function_is_lambdas_resource_not_found(sandbox):
    with pytest.raises(ClientError) as missing:
        sandbox.client("lambda").invoke(FunctionName="no-such-function", InvocationType="Event", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"

"""Test-only functions that the sandbox tests put behind the gateway and the scheduler.

The real functions have no routes yet, so the gateway tests route to these. They are imported
by the sandbox's runtime exactly as the real handlers are (module + handler name).
"""

import base64
import json
import os
import threading
import time
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from sandbox.runtime import FunctionSpec
from sandbox.stack import ACCOUNT_ID, REGION, LocalStack
from sandbox.template import HttpRoute

MODULE = __name__
ENV_NAMES = (
    "TEST_MARKER",
    "POWERTOOLS_SERVICE_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_LAMBDA_FUNCTION_NAME",
    "TABLE_NAME",
    "MEDIA_BUCKET",
)

_lock = threading.Lock()
received: list[dict[str, Any]] = []


def record(function: str, event: Any, context: Any) -> None:
    with _lock:
        received.append({"function": function, "event": event, "at": time.time(), "request_id": context.aws_request_id})


def events_of(function: str) -> list[Any]:
    with _lock:
        return [entry["event"] for entry in received if entry["function"] == function]


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    record("echo", event, context)
    return {
        "statusCode": 201,
        "headers": {
            "content-type": "application/json",
            "x-echo": "yes",
            "access-control-allow-origin": "https://elsewhere.example",
        },
        "cookies": [
            "session=abc; Path=/; HttpOnly; SameSite=Lax",
            "csrf=def; Path=/; SameSite=Strict",
            "theme=dark; Max-Age=31536000",
        ],
        "body": json.dumps({"event": event}),
    }


def sink_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = event.get("body") or ""
    size = len(base64.b64decode(body)) if event.get("isBase64Encoded") else len(body.encode())
    return {"statusCode": 200, "body": json.dumps({"bytes": size})}


def binary_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": base64.b64encode(bytes(range(256))).decode(),
        "isBase64Encoded": True,
    }


def bare_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"hello": "world"}


def crash_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("secret internal detail: token=abc123")


def malformed_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": "two hundred"}


def environment_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(0.01)  # widen the window in which another invocation could disturb the environment
    seen = {name: os.environ.get(name) for name in ENV_NAMES}
    return {"statusCode": 200, "body": json.dumps(seen)}


def dynamodb_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Writes through a default boto3 client: proves the function's AWS calls reach the sandbox's moto."""
    item = {"pk": {"S": "sandbox-test"}, "sk": {"S": event["pathParameters"]["id"]}}
    boto3.client("dynamodb").put_item(TableName=os.environ["TABLE_NAME"], Item=item)
    return {"statusCode": 204}


def record_handler(event: Any, context: Any) -> None:
    record("record", event, context)


def failing_handler(event: Any, context: Any) -> None:
    record("failing", event, context)
    raise RuntimeError("the target always fails")


app = APIGatewayHttpResolver(enable_validation=True)


@app.get("/widgets/<widget_id>")
def get_widget(widget_id: str) -> dict[str, str]:
    return {"id": widget_id}


def powertools_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


HANDLERS = {
    "EchoFunction": "echo_handler",
    "SinkFunction": "sink_handler",
    "BinaryFunction": "binary_handler",
    "BareFunction": "bare_handler",
    "CrashFunction": "crash_handler",
    "MalformedFunction": "malformed_handler",
    "EnvAFunction": "environment_handler",
    "EnvBFunction": "environment_handler",
    "DynamoFunction": "dynamodb_handler",
    "RecordFunction": "record_handler",
    "FailingFunction": "failing_handler",
    "FailingToQueueFunction": "failing_handler",
    "WidgetsFunction": "powertools_handler",
}

ROUTES = [
    HttpRoute("GET", "/echo/{id}", "EchoFunction"),
    HttpRoute("POST", "/echo/{id}", "EchoFunction"),
    HttpRoute("GET", "/echo/fixed", "BareFunction"),
    HttpRoute("ANY", "/files/{proxy+}", "EchoFunction"),
    HttpRoute("POST", "/sink", "SinkFunction"),
    HttpRoute("GET", "/binary", "BinaryFunction"),
    HttpRoute("GET", "/crash", "CrashFunction"),
    HttpRoute("GET", "/malformed", "MalformedFunction"),
    HttpRoute("GET", "/env/a", "EnvAFunction"),
    HttpRoute("GET", "/env/b", "EnvBFunction"),
    HttpRoute("PUT", "/items/{id}", "DynamoFunction"),
    HttpRoute("GET", "/widgets/{widget_id}", "WidgetsFunction"),
]


def arn(function_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:test-{function_id}"


def function_specs(stack: LocalStack) -> dict[str, FunctionSpec]:
    """The specs of the functions above, each with the ScheduleFunction's environment plus a marker."""
    base = stack.function_environment("ScheduleFunction")
    dead_letter = stack.resolver.get_att("PublishDeadLetterQueue", "Arn")
    specs = {}
    for function_id, handler_name in HANDLERS.items():
        marker = function_id.removesuffix("Function").lower()
        specs[function_id] = FunctionSpec(
            function_id=function_id,
            name=f"test-{function_id}",
            arn=arn(function_id),
            environment={**base, "TEST_MARKER": marker, "POWERTOOLS_SERVICE_NAME": f"test_{marker}"},
            module=MODULE,
            handler_name=handler_name,
            timeout_seconds=30,
            on_failure_arn=dead_letter if function_id == "FailingToQueueFunction" else None,
        )
    return specs

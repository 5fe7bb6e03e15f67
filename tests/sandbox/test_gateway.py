"""The local gateway turns real HTTP requests into payload-v2 events and handler results into responses."""

import base64
import json
import os
import threading

import httpx
import pytest

from sandbox.gateway import MAX_BODY_BYTES
from sandbox.server import Sandbox
from tests.sandbox import functions
from tests.sandbox.conftest import sandbox_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox for the module: these tests only read, so they can share it (and its start-up time)."""
    with Sandbox(sandbox_config()) as running:
        yield running


def echoed(response: httpx.Response) -> dict:
    return response.json()["event"]


def test_request_reaches_the_handler_as_a_payload_v2_event(http):
    # Given a request with a path parameter, a repeated query parameter, cookies, a header and a JSON body
    body = json.dumps({"caption": "été 🎬"})

    # When it goes through the gateway
    response = http.post(
        "/echo/42?tag=a&tag=b&q=hello%20world",
        content=body.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Custom": "value",
            "User-Agent": "sandbox-test/1.0",
            "Cookie": "a=1; b=2",
        },
    )

    # Then the handler received the event API Gateway would have sent
    event = echoed(response)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo/{id}"
    assert event["rawPath"] == "/echo/42"
    assert event["rawQueryString"] == "tag=a&tag=b&q=hello%20world"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "hello world"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-custom"] == "value"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/echo/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "sandbox-test/1.0",
    }
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"caption": "été 🎬"}
    assert event["requestContext"]["requestId"] == response.headers["apigw-requestid"]


def test_response_status_headers_and_every_cookie_come_back_intact(http):
    # When the handler answers with a status, headers and three cookies
    response = http.get("/echo/1")

    # Then the client gets them all, one Set-Cookie header per cookie
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get_list("set-cookie") == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "csrf=def; Path=/; SameSite=Strict",
        "theme=dark; Max-Age=31536000",
    ]


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/octet-stream", bytes(range(256))),
        ("application/x-www-form-urlencoded", b"a=1&b=%C3%A9"),
        ("text/plain", b"\xff\xfe not utf-8"),
    ],
)
def test_binary_and_form_bodies_reach_the_handler_base64_encoded(http, content_type, content):
    # Given a body API Gateway does not pass as text
    # When it is posted
    event = echoed(http.post("/echo/7", content=content, headers={"Content-Type": content_type}))

    # Then it arrives base64-encoded, byte for byte
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == content


def test_base64_response_bodies_are_decoded(http):
    response = http.get("/binary")
    assert response.status_code == 200
    assert response.content == bytes(range(256))


def test_routes_match_like_api_gateway(http):
    # An exact path beats a path parameter; a greedy path takes the rest of the path
    assert http.get("/echo/fixed").json() == {"hello": "world"}
    greedy = echoed(http.delete("/files/a/b/c.txt"))
    assert greedy["routeKey"] == "ANY /files/{proxy+}"
    assert greedy["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_a_bare_json_result_is_a_200_json_response(http):
    response = http.get("/echo/fixed")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/echo/1"), ("GET", "/_sandbox/nope")])
def test_unknown_route_is_a_404_like_api_gateway(http, method, path):
    response = http.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_body_over_10_mb_is_refused_with_413_and_the_handler_never_runs(http):
    before = len(functions.received)

    response = http.post("/echo/1", content=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "text/plain"})

    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert len(functions.received) == before


def test_body_of_exactly_10_mb_is_accepted(http):
    response = http.post("/sink", content=b"x" * MAX_BODY_BYTES, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert response.json() == {"bytes": MAX_BODY_BYTES}


@pytest.mark.parametrize("path", ["/crash", "/malformed"])
def test_handler_failure_is_a_500_with_a_request_id_and_nothing_else(http, path):
    response = http.get(path)

    assert response.status_code == 500
    request_id = response.headers["apigw-requestid"]
    assert response.json() == {"message": "Internal Server Error", "requestId": request_id}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_the_gateway_answers_cors_preflights_from_the_template(http, sandbox):
    # Given the web origin (the template's WebOrigin, set to the gateway's own URL locally)
    origin = sandbox.gateway_url
    before = len(functions.received)

    # When a browser sends a preflight
    response = http.options(
        "/echo/1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    # Then the gateway answers it with the CorsConfiguration, without invoking any handler
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET,POST,PATCH,DELETE,OPTIONS"
    assert response.headers["access-control-allow-headers"] == "content-type,x-csrf-token"
    assert response.headers["access-control-max-age"] == "600"
    assert len(functions.received) == before


def test_cors_headers_are_the_gateways_not_the_handlers(http, sandbox):
    allowed = http.get("/echo/1", headers={"Origin": sandbox.gateway_url})
    assert allowed.headers["access-control-allow-origin"] == sandbox.gateway_url
    assert allowed.headers["access-control-allow-credentials"] == "true"

    foreign = http.get("/echo/1", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in foreign.headers
    preflight = http.options(
        "/echo/1", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert "access-control-allow-origin" not in preflight.headers


def test_each_function_runs_in_its_own_environment_even_under_concurrent_requests(http, sandbox):
    # Given two functions whose environments differ
    results: list[tuple[str, dict]] = []

    def call(name: str) -> None:
        response = http.get(f"/env/{name}")
        results.append((name, response.json()))

    # When many requests to both arrive at once
    threads = [threading.Thread(target=call, args=("a" if index % 2 else "b",)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every invocation saw its own function's environment and the sandbox's AWS endpoint
    assert len(results) == 16
    for name, seen in results:
        assert seen["TEST_MARKER"] == f"env{name}"
        assert seen["POWERTOOLS_SERVICE_NAME"] == f"test_env{name}"
        assert seen["AWS_LAMBDA_FUNCTION_NAME"] == f"test-Env{name.upper()}Function"
        assert seen["AWS_ENDPOINT_URL"] == sandbox.aws_endpoint
        assert seen["TABLE_NAME"] == sandbox.stack.ref("AppTable")


def test_handlers_aws_calls_reach_the_sandbox_and_the_environment_is_restored_after():
    # Given the test process's own environment
    before = {name: os.environ.get(name) for name in functions.ENV_NAMES}

    # When a handler writes to DynamoDB through a default boto3 client
    with Sandbox(sandbox_config()) as sandbox, httpx.Client(base_url=sandbox.gateway_url) as client:
        assert client.put("/items/abc").status_code == 204
        table = sandbox.stack.ref("AppTable")
        item = sandbox.client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "sandbox-test"}, "sk": {"S": "abc"}}
        )

    # Then the item is in the sandbox's table, and the process environment is as it was
    assert item["Item"]["sk"] == {"S": "abc"}
    assert {name: os.environ.get(name) for name in functions.ENV_NAMES} == before

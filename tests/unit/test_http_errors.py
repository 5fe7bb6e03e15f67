"""Every error reaches the client as a clear JSON body with the right status, never a stack trace."""

import json

import pytest
from pydantic import BaseModel, Field

from flowctory import errors
from flowctory.http import create_app
from sandbox.events import http_api_event

app = create_app()


class CreateThing(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    count: int


@app.post("/things")
def create_thing(body: CreateThing) -> dict[str, str]:
    return {"name": body.name}


@app.get("/errors/<kind>")
def raise_error(kind: str) -> dict[str, str]:
    if kind == "ValidationFailed":
        raise errors.ValidationFailed({"body.caption": "At most 2200 characters."})
    error_class = {cls.__name__: cls for cls in errors.AppError.__subclasses__()}[kind]
    raise error_class("A message meant for the creator.")


@app.get("/crash")
def crash() -> dict[str, str]:
    raise RuntimeError("secret internal detail: token=abc123")


def call(event, lambda_context):
    response = app.resolve(event, lambda_context)
    return response["statusCode"], json.loads(response["body"]), response


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("BadRequest", 400, "bad_request"),
        ("Unauthenticated", 401, "unauthenticated"),
        ("Forbidden", 403, "forbidden"),
        ("NotFound", 404, "not_found"),
        ("Conflict", 409, "conflict"),
        ("InvalidState", 422, "invalid_state"),
        ("RateLimited", 429, "rate_limited"),
        ("UpstreamError", 502, "upstream_error"),
    ],
)
def test_each_domain_error_maps_to_its_status_and_code(kind, status, code, lambda_context):
    status_code, body, _ = call(http_api_event("GET", f"/errors/{kind}"), lambda_context)
    assert status_code == status
    assert body == {"error": {"code": code, "message": "A message meant for the creator."}}


def test_domain_validation_failure_is_a_422_naming_each_field(lambda_context):
    status, body, _ = call(http_api_event("GET", "/errors/ValidationFailed"), lambda_context)
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["fields"] == [{"field": "body.caption", "problem": "At most 2200 characters."}]


def test_unexpected_error_is_a_500_with_request_id_and_no_internals(lambda_context, captured_logs):
    # Given a route that crashes with an internal detail in its exception
    event = http_api_event("GET", "/crash", request_id="req-42")

    # When it is called
    status, body, response = call(event, lambda_context)

    # Then the client gets a 500 with the request id and nothing of the exception
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["request_id"] == "req-42"
    assert "secret" not in response["body"]
    assert "Traceback" not in response["body"]
    # and the stack trace went to the log
    logged = captured_logs.getvalue()
    assert "Traceback" in logged
    assert '"request_id":"req-42"' in logged


def test_malformed_json_is_a_400(lambda_context):
    status, body, _ = call(http_api_event("POST", "/things", body='{"name": "a",'), lambda_context)
    assert status == 400
    assert body["error"]["code"] == "malformed_json"


def test_invalid_fields_are_a_422_naming_each_field(lambda_context):
    event = http_api_event("POST", "/things", body=json.dumps({"name": "far too long a name"}))
    status, body, _ = call(event, lambda_context)
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert {problem["field"] for problem in body["error"]["fields"]} == {"body.name", "body.count"}
    assert "body.name" in body["error"]["message"]


def test_unknown_route_is_a_json_404(lambda_context):
    status, body, _ = call(http_api_event("GET", "/nowhere"), lambda_context)
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_p31_responses_carry_hsts_and_no_store(lambda_context):
    event = http_api_event("POST", "/things", body=json.dumps({"name": "ok", "count": 1}))
    status, _, response = call(event, lambda_context)
    assert status == 200
    assert response["headers"]["Strict-Transport-Security"].startswith("max-age=")
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"

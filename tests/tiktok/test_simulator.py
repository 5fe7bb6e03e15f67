"""The simulator itself: malformed requests get TikTok's error shape (never a stack trace), the
control API validates its input, and `python -m sandbox.tiktok_sim` serves standalone."""

import json
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tiktok.conftest import TEST_CONFIG, WEB

pytestmark = pytest.mark.e2e

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def assert_tiktok_error(response: httpx.Response, status: int | None = None) -> dict:
    assert response.status_code < 500 if status is None else response.status_code == status
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"data", "error"} and body["error"]["code"] != "ok"
    assert body["error"]["message"] and len(body["error"]["log_id"]) == 32
    return body


def bearer(connect) -> dict[str, str]:
    return {"Authorization": f"Bearer {connect().grant.access_token.get_secret_value()}"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/v2/post/publish/video/init/", {"content": b"{not json"}, 400, "invalid_params"),
        ("POST", "/v2/post/publish/video/init/", {"json": [1, 2]}, 400, "invalid_params"),
        ("POST", "/v2/post/publish/video/init/", {"json": {"post_info": "x"}}, 400, "invalid_params"),
        (
            "POST",
            "/v2/post/publish/video/init/",
            {"json": {"post_info": {"privacy_level": "SELF_ONLY", "disable_duet": "no"}, "source_info": {}}},
            400,
            "invalid_params",
        ),
        (
            "POST",
            "/v2/post/publish/video/init/",
            {"json": {"post_info": {"privacy_level": "EVERYONE"}, "source_info": {}}},
            400,
            "invalid_params",
        ),
        (
            "POST",
            "/v2/post/publish/video/init/",
            {"json": {"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": {"source": "FTP"}}},
            400,
            "invalid_params",
        ),
        (
            "POST",
            "/v2/post/publish/video/init/",
            {
                "json": {
                    "post_info": {"privacy_level": "SELF_ONLY"},
                    "source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn.example/v.mp4"},
                }
            },
            403,
            "url_ownership_unverified",
        ),
        ("POST", "/v2/post/publish/status/fetch/", {"json": {"publish_id": 12}}, 400, "invalid_publish_id"),
        ("GET", "/v2/user/info/", {}, 400, "invalid_params"),
        ("GET", "/v2/user/info/?fields=open_id,shoe_size", {}, 400, "invalid_params"),
        ("GET", "/v2/post/publish/video/init/", {}, 405, "method_not_allowed"),
        ("GET", "/v2/nothing/here/", {}, 404, "not_found"),
    ],
)
def test_malformed_requests_get_tiktoks_shape(connect, sim, method, path, kwargs, status, code):
    response = WEB.request(method, sim.url + path, headers=bearer(connect), **kwargs)
    assert assert_tiktok_error(response, status)["error"]["code"] == code


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer act.nope", "Basic abc"])
def test_missing_or_bad_token_is_access_token_invalid(sim, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = WEB.post(f"{sim.url}/v2/post/publish/creator_info/query/", headers=headers)
    assert assert_tiktok_error(response, 401)["error"]["code"] == "access_token_invalid"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["post_info", "source_info", "x"]), JSON_VALUES, max_size=3))
def test_any_init_body_gets_an_answer_never_a_crash(connect_once, sim_server, body):
    response = WEB.post(f"{sim_server.url}/v2/post/publish/video/init/", json=body, headers=connect_once)
    if response.status_code != 200:
        assert_tiktok_error(response)


@pytest.fixture
def connect_once(connect, sim):
    sim.configure(rate_limits={})
    return bearer(connect)


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"client_key": TEST_CONFIG.client_key},
        {"client_key": TEST_CONFIG.client_key, "client_secret": TEST_CONFIG.client_secret, "grant_type": "password"},
        {
            "client_key": TEST_CONFIG.client_key,
            "client_secret": TEST_CONFIG.client_secret,
            "grant_type": "authorization_code",
        },
    ],
)
def test_malformed_token_requests_get_the_flat_oauth_shape(sim, form):
    response = WEB.post(f"{sim.url}/v2/oauth/token/", data=form)
    body = response.json()
    assert set(body) == {"error", "error_description", "log_id"} and body["error"] != "ok"


def test_control_api_refuses_unknown_settings_and_faults(sim):
    assert WEB.patch(f"{sim.url}/_sim/config", json={"no_such_switch": 1}).status_code == 400
    assert WEB.patch(f"{sim.url}/_sim/config", json={"lifetime_profile": "2030"}).status_code == 400
    assert WEB.post(f"{sim.url}/_sim/faults", json={"endpoint": "nowhere"}).status_code == 400
    assert WEB.post(f"{sim.url}/_sim/faults", json={"endpoint": "token", "colour": "red"}).status_code == 400
    assert WEB.post(f"{sim.url}/_sim/clock", json={"advance_seconds": -5}).status_code == 400


def test_runs_standalone(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([".", "layers/flowctory"])}
    process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "sandbox.tiktok_sim", "--port", str(port), "--config", json.dumps({"pkce": "optional"})],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/_sim/config", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "the simulator did not start"
                time.sleep(0.1)
        assert response.json()["pkce"] == "optional"
        page = httpx.get(f"http://127.0.0.1:{port}/v2/auth/authorize/")
        assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sandbox_service_reads_routes_from_the_template(sim_server):
    from sandbox.tiktok_sim import create_service

    template = {
        "Parameters": {"TikTokClientKey": {"Type": "String"}},
        "Resources": {
            "TikTokOAuthFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "Callback": {"Type": "HttpApi", "Properties": {"Path": "/tiktok/callback", "Method": "GET"}},
                    }
                },
            },
            "WebhooksFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "TikTok": {"Type": "HttpApi", "Properties": {"Path": "/webhooks/tiktok", "Method": "POST"}},
                    }
                },
            },
        },
    }
    stack = SimpleNamespace(template=template, ref=lambda name: "")
    context = SimpleNamespace(host="127.0.0.1", gateway_url="http://localhost:3000", stack=stack, ports={"tiktok": 0})
    service = create_service(context)
    assert "http://localhost:3000/tiktok/callback" in service.config.redirect_uris
    assert service.config.webhook_url == "http://localhost:3000/webhooks/tiktok"
    service.start()
    try:
        environment = service.environment()
        assert environment["TIKTOK_API_BASE_URL"] == service.url
        assert httpx.get(f"{service.url}/_sim/health").json() == {"ok": True}
    finally:
        service.stop()

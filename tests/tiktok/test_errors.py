"""Every documented TikTok error surfaces as its typed error, with the right retryable flag, and
nothing a client holds (token, secret, upload URL) leaks into an exception or a log line."""

import json
import logging
import socket
import traceback

import pytest

from flowctory.adapters.tiktok import errors
from flowctory.adapters.tiktok.client import RetryPolicy, TikTokClient
from flowctory.domain.chunks import plan_chunks
from flowctory.observability import logger as app_logger
from tests.tiktok.conftest import TEST_CONFIG
from tests.tiktok.test_posting import post_info

pytestmark = pytest.mark.e2e

# (endpoint to fault, HTTP status, TikTok code, expected class, retryable)
RESOURCE_CODES = [
    ("creator_info", 401, "access_token_invalid", errors.TikTokTokenInvalid, True),
    ("creator_info", 401, "scope_not_authorized", errors.TikTokScopeMissing, False),
    ("user_info", 400, "scope_permission_missed", errors.TikTokScopeMissing, False),
    ("video_init", 400, "invalid_params", errors.TikTokInvalidRequest, False),
    ("video_init", 400, "invalid_param", errors.TikTokInvalidRequest, False),
    ("video_init", 400, "invalid_file_upload", errors.TikTokInvalidRequest, False),
    ("video_init", 429, "rate_limit_exceeded", errors.TikTokRateLimited, True),
    ("video_init", 500, "internal_error", errors.TikTokServerError, True),
    ("video_init", 403, "spam_risk_too_many_posts", errors.TikTokCannotPostNow, False),
    ("video_init", 403, "spam_risk_user_banned_from_posting", errors.TikTokCannotPostNow, False),
    ("video_init", 403, "reached_active_user_cap", errors.TikTokCannotPostNow, False),
    ("video_init", 403, "unaudited_client_can_only_post_to_private_accounts", errors.TikTokUnauditedClient, False),
    ("video_init", 403, "url_ownership_unverified", errors.TikTokUrlUnverified, False),
    ("video_init", 403, "privacy_level_option_mismatch", errors.TikTokPrivacyMismatch, False),
    ("inbox_init", 403, "spam_risk_too_many_pending_share", errors.TikTokCannotPostNow, False),
    ("status", 400, "invalid_publish_id", errors.TikTokInvalidRequest, False),
    ("status", 400, "token_not_authorized_for_specified_publish_id", errors.TikTokInvalidRequest, False),
    ("status", 404, "some_future_code", errors.TikTokUnknownError, False),
    ("status", 503, "some_future_code", errors.TikTokServerError, True),
]

OAUTH_CODES = [
    ("invalid_grant", errors.TikTokReconnectRequired, False),
    ("access_denied", errors.TikTokReconnectRequired, False),
    ("invalid_scope", errors.TikTokScopeMissing, False),
    ("invalid_client", errors.TikTokClientMisconfigured, False),
    ("invalid_request", errors.TikTokClientMisconfigured, False),
    ("unauthorized_client", errors.TikTokClientMisconfigured, False),
    ("unsupported_grant_type", errors.TikTokClientMisconfigured, False),
    ("unsupported_response_type", errors.TikTokClientMisconfigured, False),
    ("server_error", errors.TikTokServerError, True),
    ("temporarily_unavailable", errors.TikTokServerError, True),
]


def call(client, grant, endpoint):
    token = grant.access_token
    if endpoint == "creator_info":
        return client.creator_info(token)
    if endpoint == "user_info":
        return client.user_info(token)
    if endpoint == "video_init":
        return client.init_direct_post(token, post_info(), plan_chunks(1000))
    if endpoint == "inbox_init":
        return client.init_inbox_upload(token, plan_chunks(1000))
    return client.fetch_status(token, "v_pub_file~v2-1.1")


@pytest.mark.parametrize(("endpoint", "status", "code", "cls", "retryable"), RESOURCE_CODES)
def test_each_documented_code_is_its_typed_error(connect, client, sim, endpoint, status, code, cls, retryable):
    # Given TikTok answering `code` with `status` (as many times as the client may retry)
    grant = connect().grant
    sim.fault(endpoint, status=status, error_code=code, message="TikTok says no", count=10)

    # When the client calls that endpoint
    with pytest.raises(errors.TikTokError) as caught:
        call(client, grant, endpoint)

    # Then the error's type, flag, code, status, log_id and message are all there
    error = caught.value
    assert type(error) is cls
    assert (error.retryable, error.tiktok_code, error.http_status) == (retryable, code, status)
    assert error.log_id and len(error.log_id) == 32
    assert error.detail == "TikTok says no"
    assert error.message and "TikTok says no" not in error.message  # the creator sees our words, not TikTok's


@pytest.mark.parametrize(("code", "cls", "retryable"), OAUTH_CODES)
@pytest.mark.parametrize("status", [200, 400])
def test_each_oauth_code_is_its_typed_error(connect, client, sim, code, cls, retryable, status):
    grant = connect().grant
    sim.fault("token", status=status, error_code=code, message="Injected.")
    with pytest.raises(cls) as caught:
        client.refresh(grant.refresh_token)
    assert (caught.value.retryable, caught.value.tiktok_code, caught.value.http_status) == (retryable, code, status)
    assert caught.value.log_id


def test_reads_are_retried_on_5xx_but_inits_are_not(connect, client, sim):
    grant = connect().grant
    sim.fault("creator_info", status=502, count=2)
    assert client.creator_info(grant.access_token).creator_username  # third try succeeds

    sim.fault("video_init", status=502, count=1)
    with pytest.raises(errors.TikTokServerError):
        client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    assert [f["fired"] for f in sim.faults() if f["endpoint"] == "video_init"] == [1]  # sent once, never twice


@pytest.mark.parametrize(
    ("status", "raw_body", "cls", "retryable"),
    [
        (502, "<html><body>Bad gateway</body></html>", errors.TikTokServerError, True),
        (200, "<html>captive portal</html>", errors.TikTokBadResponse, True),
        (200, '["not", "an", "object"]', errors.TikTokBadResponse, False),
        (
            200,
            '{"data": {"privacy_level_options": "PUBLIC"}, "error": {"code": "ok"}}',
            errors.TikTokBadResponse,
            False,
        ),
        (200, '{"data": {}}', errors.TikTokBadResponse, False),
    ],
)
def test_unusable_answers_become_typed_errors(connect, client, sim, status, raw_body, cls, retryable):
    grant = connect().grant
    sim.fault("creator_info", status=status, raw_body=raw_body, content_type="application/json", count=10)
    with pytest.raises(cls) as caught:
        client.creator_info(grant.access_token)
    assert caught.value.retryable is retryable


def test_unexpected_status_value_is_a_bad_response(connect, client, sim):
    grant = connect().grant
    body = {"data": {"status": "SOMETHING_NEW"}, "error": {"code": "ok", "message": "", "log_id": "x"}}
    sim.fault("status", status=200, raw_body=json.dumps(body), content_type="application/json")
    with pytest.raises(errors.TikTokBadResponse):
        client.fetch_status(grant.access_token, "v_pub_file~v2-1.1")


def test_timeout_and_refused_connection_are_connection_errors(connect, sim):
    grant = connect().grant
    with TikTokClient(
        client_key=TEST_CONFIG.client_key,
        client_secret=TEST_CONFIG.client_secret,
        api_base_url=sim.url,
        auth_base_url=sim.url,
        timeout=0.2,
        retry=RetryPolicy(attempts=2, base_delay=0.01),
    ) as slow_client:
        sim.fault("creator_info", delay_seconds=0.5, count=2)
        with pytest.raises(errors.TikTokConnectionError) as caught:
            slow_client.creator_info(grant.access_token)
        assert caught.value.retryable is True and caught.value.detail == "ReadTimeout"

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    with (
        TikTokClient(
            client_key="k", client_secret="s", api_base_url=f"http://127.0.0.1:{closed_port}", auth_base_url="x"
        ) as dead,
        pytest.raises(errors.TikTokConnectionError),
    ):
        dead.refresh("rft.x")


@pytest.fixture
def app_log_lines():
    """Every line the app's Powertools logger writes, formatted with its extra keys."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(app_logger.registered_formatter)
    handler.emit = lambda record: lines.append(handler.format(record))
    app_logger.addHandler(handler)
    yield lines
    app_logger.removeHandler(handler)


def test_no_secret_reaches_an_exception_or_a_log_line(connect, client, sim, caplog, capfd, app_log_lines, video_files):
    # Given a connected creator, the app's secret and an upload URL
    caplog.set_level(logging.DEBUG)
    grant = connect().grant
    plan = plan_chunks(len(video_files.mp4.data))
    init = client.init_direct_post(grant.access_token, post_info(), plan)
    upload_url = init.upload_url.get_secret_value()
    secrets = [
        grant.access_token.get_secret_value(),
        grant.refresh_token.get_secret_value(),
        TEST_CONFIG.client_secret,
        upload_url.split("upload_token=")[1],
    ]

    # When every kind of failure happens
    sim.fault("token", status=400, error_code="invalid_grant")
    sim.fault("creator_info", status=503, count=10)
    sim.fault("video_init", status=200, raw_body="<html>", content_type="text/html")
    sim.fault("upload", status=500, count=10)
    sim.fault("status", delay_seconds=0.3, count=10)
    failures = []
    attempts = [
        lambda: client.refresh(grant.refresh_token),
        lambda: client.creator_info(grant.access_token),
        lambda: client.init_direct_post(grant.access_token, post_info(), plan),
        lambda: client.upload(upload_url, plan, [video_files.mp4.data], content_type="video/mp4"),
        lambda: TikTokClient(
            client_key="k",
            client_secret=TEST_CONFIG.client_secret,
            api_base_url=sim.url,
            auth_base_url=sim.url,
            timeout=0.1,
            retry=RetryPolicy(attempts=1),
        ).fetch_status(grant.access_token, init.publish_id),
    ]
    for attempt in attempts:
        with pytest.raises(errors.TikTokError) as caught:
            attempt()
        failures.append(caught.value)

    # Then no secret appears in any message, repr or traceback, nor in any log line or output
    texts = [str(e) for e in failures] + [repr(e) for e in failures] + [str(e.detail) for e in failures]
    texts += ["".join(traceback.format_exception(e)) for e in failures]
    texts += [r.getMessage() + str(r.__dict__) for r in caplog.records] + app_log_lines
    out, err = capfd.readouterr()
    texts += [out, err, repr(client), repr(grant), repr(init)]
    assert len(app_log_lines) >= 5  # the failures were logged, with their keys
    for secret in secrets:
        assert all(secret not in text for text in texts)

"""Webhook signatures (TikTok-Signature) and the simulator's deliveries: signed, retried, duplicated."""

import hashlib
import hmac
import json
import time

import pytest

from flowctory.adapters.tiktok.webhooks import WebhookSignatureError, parse_event, verify_signature
from flowctory.errors import BadRequest
from flowctory.models.tiktok import WebhookEvent
from tests.tiktok.conftest import TEST_CONFIG
from tests.tiktok.test_upload import upload_video

SECRET = "client-secret-for-tests"
BODY = json.dumps(
    {
        "client_key": "key",
        "event": "post.publish.complete",
        "create_time": 1700000000,
        "user_openid": "open-1",
        "content": json.dumps({"publish_id": "v_pub_file~v2-1.1", "publish_type": "DIRECT_PUBLISH"}),
    }
).encode()


def signed(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def test_a_valid_signature_verifies():
    now = int(time.time())
    assert verify_signature(signed(BODY, now), BODY, SECRET, now=now) == now


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("tampered-body", BODY.replace(b"complete", b"failed__")),
        ("tampered-signature", BODY),
        ("other-secret", BODY),
        ("missing", BODY),
        ("malformed", BODY),
        ("stale", BODY),
        ("future", BODY),
    ],
)
def test_a_tampered_or_stale_signature_fails(header, body):
    now = int(time.time())
    headers = {
        "tampered-body": signed(BODY, now),
        "tampered-signature": signed(BODY, now)[:-1] + "0",
        "other-secret": signed(BODY, now, "another-secret"),
        "missing": None,
        "malformed": "s=abc",
        "stale": signed(BODY, now - 301),
        "future": signed(BODY, now + 301),
    }
    with pytest.raises(WebhookSignatureError):
        verify_signature(headers[header], body, SECRET, now=now)


def test_the_event_content_is_parsed_from_its_json_string():
    event = parse_event(BODY)
    assert isinstance(event, WebhookEvent)
    assert event.content == {"publish_id": "v_pub_file~v2-1.1", "publish_type": "DIRECT_PUBLISH"}
    assert event.idempotency_key == "post.publish.complete|open-1|v_pub_file~v2-1.1||1700000000"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"event": "x"}',
        b'{"client_key":"k","event":"e","create_time":1,"user_openid":"o","content":"{"}',
    ],
)
def test_a_body_that_is_not_an_event_is_a_bad_request(body):
    with pytest.raises(BadRequest):
        parse_event(body)


@pytest.mark.e2e
def test_simulator_deliveries_are_signed_retried_and_duplicated(connect, client, sim, video_files, webhook_receiver):
    # Given a callback that fails twice, and TikTok delivering every event twice
    sim.configure(webhook_duplicates=1)
    webhook_receiver.statuses = [500, 503]

    # When a post is published
    grant = connect().grant
    init, _, _ = upload_video(client, grant, video_files.mp4.data, "video/mp4")
    sim.wait_for(lambda: len(webhook_receiver.received) == 4)

    # Then the callback saw two failed attempts, then the delivery, then a duplicate, each validly signed
    events = []
    for headers, body in webhook_receiver.received:
        verify_signature(headers["Tiktok-Signature"], body, TEST_CONFIG.client_secret)
        events.append(parse_event(body))
    assert {e.idempotency_key for e in events} == {events[0].idempotency_key}
    assert events[0].content["publish_id"] == init.publish_id
    log = sim.webhooks()
    assert [len(d["attempts"]) for d in log] == [3, 1]
    assert [d["duplicate"] for d in log] == [False, True]

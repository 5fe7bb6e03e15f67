"""TikTok's publish webhooks, signed by the simulator and sent over HTTP, handled by the webhooks function."""

import json

from flowctory import publishing_wiring
from flowctory.domain.tiktok_tokens import usable_tokens
from flowctory.models.posts import PostStatus
from flowctory.models.tiktok_accounts import AccountStatus


def waiting_post(stack):
    """A post uploaded to TikTok whose processing takes ten minutes: the run ended waiting."""
    stack.sim.configure(processing_delay_seconds=600)
    stack.new_post()
    assert stack.invoke()["outcome"] == "waiting"
    return stack.post()


def events(receiver):
    return [json.loads(body)["event"] for _, body in receiver.received]


def test_p07_publish_complete_webhook_publishes_the_post_and_deletes_the_video_at_once(stack, webhook_receiver):
    # Given a post TikTok is still processing when its run ended
    waiting_post(stack)

    # When TikTok finishes, and its moderation makes the public post available
    stack.sim.advance(601)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 2)
    assert events(webhook_receiver) == ["post.publish.complete", "post.publish.publicly_available"]
    answers = stack.deliver_webhooks(webhook_receiver)

    # Then the webhooks are acknowledged, the post is published with TikTok's post id, the video gone (P07)
    assert [a["status"] for a in answers] == [200, 200]
    assert [a["outcome"] for a in answers] == ["processed", "processed"]
    post = stack.post()
    assert post.status is PostStatus.PUBLISHED
    assert post.tiktok_post_id == stack.sim.published()["creators"][stack.open_id]["posts"][0]["post_id"]
    assert not stack.video_exists()
    # ... and the follow-up that was waiting finds nothing left to do: one TikTok post
    assert stack.fire_follow_ups() == ["skipped"]
    assert stack.tiktok_posts() == 1


def test_a_redelivered_webhook_is_acknowledged_and_changes_nothing(stack, webhook_receiver):
    waiting_post(stack)
    stack.sim.advance(601)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 2)
    stack.deliver_webhooks(webhook_receiver)
    before = stack.post()

    # When TikTok delivers the same events again (at least once delivery)
    again = stack.deliver_webhooks(webhook_receiver)

    assert [a["outcome"] for a in again] == ["duplicate", "duplicate"]
    assert stack.post() == before


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(stack, webhook_receiver):
    waiting_post(stack)
    stack.sim.advance(601)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 1)
    headers, body = webhook_receiver.received[0]
    signature = headers.get("Tiktok-Signature") or headers["TikTok-Signature"]
    forged = signature[:-4] + ("0000" if not signature.endswith("0000") else "1111")
    webhook_receiver.received[:] = [({"TikTok-Signature": forged}, body), ({}, body)]

    answers = stack.deliver_webhooks(webhook_receiver)

    assert [a["status"] for a in answers] == [401, 401]
    assert "error" in answers[0] and forged not in str(answers[0])
    assert stack.post().status is PostStatus.PROCESSING
    assert stack.video_exists()


def test_publish_failed_webhook_fails_the_post_with_tiktoks_reason(stack, webhook_receiver, video_files):
    # Given a 15 fps video whose stored facts say 30 fps, so only TikTok's own processing can refuse it
    stack.sim.configure(processing_delay_seconds=600)
    stack.new_post(video=video_files.low_fps, facts={"frame_rate": 30.0})
    assert stack.invoke()["outcome"] == "waiting"

    # When TikTok's processing fails it and says so by webhook
    stack.sim.advance(601)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 1)
    assert events(webhook_receiver) == ["post.publish.failed"]
    assert stack.deliver_webhooks(webhook_receiver)[0]["outcome"] == "processed"

    # Then the post failed with TikTok's reason in words, not retryable, and nothing was posted
    failure = stack.post().failure
    assert failure is not None and failure.code == "frame_rate_check_failed" and not failure.retryable
    assert "frames per second" in failure.message
    assert stack.fire_follow_ups() == ["skipped"]
    assert stack.tiktok_posts() == 0


def test_authorization_removed_webhook_drops_the_tokens_and_asks_for_a_reconnect(stack, webhook_receiver):
    # Given a connected creator, who removes Flowctory's access in TikTok (TikTok revokes and notifies)
    tokens = usable_tokens(publishing_wiring.publisher().tokens, user_id="u-pub-1", open_id=stack.open_id)
    publishing_wiring.tiktok_client().revoke(tokens.access_token)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 1)
    assert events(webhook_receiver) == ["authorization.removed"]

    # When the webhook arrives
    answers = stack.deliver_webhooks(webhook_receiver)

    # Then the account needs a reconnect and its tokens are gone
    assert answers[0]["outcome"] == "processed"
    account = stack.accounts.get("u-pub-1", stack.open_id)
    assert account.status is AccountStatus.RECONNECT_REQUIRED
    assert account.sealed_tokens is None

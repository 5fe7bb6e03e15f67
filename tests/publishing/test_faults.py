"""TikTok faults at each step: the post ends published exactly once, or failed with a reason, never twice."""

import json

import pytest

from flowctory import publishing_wiring
from flowctory.domain.tiktok_tokens import usable_tokens
from flowctory.models.posts import PostStatus
from flowctory.models.tiktok_accounts import AccountStatus


def published_once(stack) -> None:
    post = stack.post()
    assert post.status is PostStatus.PUBLISHED, post.failure
    assert stack.tiktok_posts() == 1
    assert not stack.video_exists()


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [
        ("creator_info", {"status": 503, "count": 10}),
        ("creator_info", {"status": 429, "error_code": "rate_limit_exceeded", "count": 10}),
        ("video_init", {"status": 500, "error_code": "internal_error"}),
        ("video_init", {"status": 429, "error_code": "rate_limit_exceeded"}),
        ("video_init", {"drop": True}),  # the connection breaks: no answer at all
        ("status", {"status": 502, "count": 10}),
        ("status", {"status": 429, "error_code": "rate_limit_exceeded", "count": 10}),
    ],
    ids=["creator-5xx", "creator-429", "init-5xx", "init-429", "init-timeout", "status-5xx", "status-429"],
)
def test_a_transient_fault_is_retried_later_and_the_post_is_published_once(stack, endpoint, fault):
    # Given TikTok failing at one step for longer than the client's own retries
    stack.new_post()
    stack.sim.fault(endpoint, **fault)

    # When the schedule fires
    first = stack.invoke()

    # Then the run hands over to a follow-up (no sleeping Lambda) with the post still processing
    assert first["outcome"] == "waiting"
    assert stack.schedules() == ["post-post-1-a1"]
    assert stack.post().status is PostStatus.PROCESSING

    # ... and once TikTok recovers, the follow-up publishes it exactly once
    stack.clear_faults()
    assert stack.fire_follow_ups()[-1] == "published"
    published_once(stack)


def test_an_init_whose_answer_is_lost_never_becomes_a_second_post(stack):
    # Given TikTok creating the publish but its answer never reaching us (a 500 after the work)
    stack.new_post()
    stack.sim.fault("video_init", status=500, after=True)

    # When the schedule fires, then its follow-up
    assert stack.invoke()["outcome"] == "waiting"
    outcomes = stack.fire_follow_ups()

    # Then two publishes exist at TikTok, but only the one we hold got bytes: one post
    assert outcomes[-1] == "published"
    assert len(stack.sim.http.get("/_sim/publishes").json()) == 2
    published_once(stack)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503, "count": 2},
        {"status": 416},  # TikTok says the offset is wrong: resume from its Content-Range
        {"drop": True},  # the connection breaks mid-chunk
    ],
    ids=["5xx", "5xx-twice", "416", "timeout"],
)
def test_a_chunk_fault_is_retried_or_resumed_within_the_run(stack, fault):
    stack.new_post()
    stack.sim.fault("upload", **fault)

    assert stack.invoke()["outcome"] == "published"

    published_once(stack)
    assert stack.schedules() == []


def test_an_expired_upload_url_fails_the_post_as_retryable_and_tiktok_posts_nothing(stack):
    # Given TikTok refusing the PUT because the upload URL is older than its hour
    stack.new_post()
    stack.sim.fault("upload", status=403)

    # When the schedule fires
    assert stack.invoke()["outcome"] == "failed"

    # Then the post failed with a reason a retry can help, and nothing was posted
    failure = stack.post().failure
    assert failure is not None and failure.code == "tiktok_upload_expired" and failure.retryable
    assert stack.tiktok_posts() == 0
    assert stack.video_exists()  # kept for a retry (the retention sweep removes it within 24 h)


def test_a_chunk_failing_for_good_fails_the_post_as_retryable(stack):
    stack.new_post()
    stack.sim.fault("upload", status=500, count=10)

    assert stack.invoke()["outcome"] == "failed"

    failure = stack.post().failure
    assert failure is not None and failure.retryable and "did not post" in failure.message
    assert stack.tiktok_posts() == 0


@pytest.mark.parametrize(
    ("endpoint", "fault", "code", "words"),
    [
        (
            "video_init",
            {"status": 403, "error_code": "spam_risk_too_many_posts"},
            "spam_risk_too_many_posts",
            "per day",
        ),
        (
            "video_init",
            {"status": 403, "error_code": "spam_risk_user_banned_from_posting"},
            "spam_risk_user_banned_from_posting",
            "does not allow",
        ),
        (
            "creator_info",
            {"status": 200, "error_code": "spam_risk_too_many_posts"},
            "spam_risk_too_many_posts",
            "per day",
        ),
        (
            "video_init",
            {"status": 403, "error_code": "privacy_level_option_mismatch"},
            "privacy_level_option_mismatch",
            "audience",
        ),
    ],
    ids=["init-too-many-posts", "init-banned", "creator-info-too-many-posts", "privacy-mismatch"],
)
def test_a_refusal_fails_the_post_with_tiktoks_reason_in_the_creators_words(stack, endpoint, fault, code, words):
    # Given TikTok refusing the post for a reason retrying cannot fix
    stack.new_post()
    stack.sim.fault(endpoint, **fault)

    # When the schedule fires
    assert stack.invoke()["outcome"] == "failed"

    # Then the post failed, saying why in words a creator understands, not retryable, nothing posted
    failure = stack.post().failure
    assert failure is not None
    assert (failure.code, failure.retryable) == (code, False)
    assert words in failure.message
    assert stack.tiktok_posts() == 0
    assert stack.schedules() == []


@pytest.mark.parametrize(
    ("fail_reason", "retryable"), [("internal", True), ("spam_risk_text", False), ("frame_rate_check_failed", False)]
)
def test_tiktok_failing_the_publish_is_reported_with_its_reason(stack, fail_reason, retryable):
    # Given TikTok's processing failing the publish (status FAILED with a fail_reason)
    stack.new_post()
    body = {"data": {"status": "FAILED", "fail_reason": fail_reason, "publicaly_available_post_id": []}}
    body["error"] = {"code": "ok", "message": "", "log_id": "x"}
    stack.sim.fault("status", status=200, raw_body=json.dumps(body), content_type="application/json")

    assert stack.invoke()["outcome"] == "failed"

    failure = stack.post().failure
    assert failure is not None and (failure.code, failure.retryable) == (fail_reason, retryable)
    assert fail_reason not in failure.message  # words, not codes


def test_a_token_revoked_mid_way_fails_the_post_and_asks_for_a_reconnect(stack):
    # Given a post uploaded and still processing at TikTok when the run hands over to a follow-up
    stack.sim.configure(processing_delay_seconds=3600)
    stack.new_post()
    assert stack.invoke()["outcome"] == "waiting"
    publish_id = stack.post().publish_id

    # When the creator removes Flowctory's access in TikTok before the follow-up runs
    tokens = usable_tokens(publishing_wiring.publisher().tokens, user_id="u-pub-1", open_id=stack.open_id)
    publishing_wiring.tiktok_client().revoke(tokens.access_token)
    outcomes = stack.fire_follow_ups()

    # Then TikTok failed the publish (auth_removed), the post says so, and the account needs a reconnect
    assert outcomes[-1] == "failed"
    assert stack.sim.publish(publish_id)["status"] == "FAILED"
    failure = stack.post().failure
    assert failure is not None and failure.code == "tiktok_reconnect_required" and not failure.retryable
    assert "reconnect" in failure.message.lower()
    assert stack.accounts.get("u-pub-1", stack.open_id).status is AccountStatus.RECONNECT_REQUIRED
    assert stack.tiktok_posts() == 0


def test_a_long_tiktok_processing_is_followed_by_follow_ups_not_a_sleeping_lambda(stack):
    # Given TikTok taking ten minutes to process the video
    stack.sim.configure(processing_delay_seconds=600)
    stack.new_post()

    # When the schedule fires, the run ends waiting with a follow-up scheduled
    assert stack.invoke()["outcome"] == "waiting"
    assert stack.schedules() == ["post-post-1-a1"]

    # ... TikTok finishes meanwhile, and the follow-up finds it published
    stack.sim.advance(601)
    stack.sim.wait_idle()
    assert stack.fire_follow_ups() == ["published"]
    published_once(stack)

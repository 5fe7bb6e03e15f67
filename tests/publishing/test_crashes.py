"""A crash between any two steps of a publish, then Lambda's retry and the sweeper: published once, or
failed with a reason, and the simulator's record shows no double post."""

from datetime import timedelta

import boto3
import pytest

from flowctory.adapters import keys
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.s3 import S3MediaStore
from flowctory.adapters.tiktok.client import TikTokClient
from flowctory.domain.publishing import PublishPolicy
from flowctory.models.posts import PostStatus


class Crash(Exception):
    """The Lambda dies here (timeout, out of memory, a deploy)."""


def crash_once(monkeypatch, owner: type, name: str, *, when: str) -> None:
    original = getattr(owner, name)
    armed = [True]

    def crashing(self, *args, **kwargs):
        if armed[0] and when == "before":
            armed[0] = False
            raise Crash(name)
        result = original(self, *args, **kwargs)
        if armed[0]:
            armed[0] = False
            raise Crash(name)
        return result

    monkeypatch.setattr(owner, name, crashing)


# (where it dies, and how the post must end)
CRASH_POINTS = [
    (PostRepository, "claim", "after", "published"),
    (TikTokClient, "creator_info", "before", "published"),
    (TikTokClient, "init_direct_post", "after", "published"),  # TikTok has a publish we never heard of
    (PostRepository, "save_publish_pointer", "after", "published"),
    (PostRepository, "record_publish_id", "after", "failed"),  # the upload URL died with the run
    (TikTokClient, "upload", "after", "published"),
    (TikTokClient, "fetch_status", "after", "published"),
    (PostRepository, "mark_published", "after", "published"),
    (S3MediaStore, "delete", "before", "published"),
]


@pytest.mark.parametrize(
    ("owner", "name", "when", "ending"),
    CRASH_POINTS,
    ids=[f"{when}-{name}" for _, name, when, _ in CRASH_POINTS],
)
def test_a_crash_at_any_step_ends_published_once_or_failed_with_a_reason(stack, monkeypatch, owner, name, when, ending):
    # Given a due post, and a run that dies at one step
    stack.new_post()
    crash_once(monkeypatch, owner, name, when=when)
    with pytest.raises(Crash):
        stack.invoke()

    # When Lambda retries at once (the lease is still held, so the retry does nothing) ...
    assert stack.invoke()["outcome"] == "skipped"
    # ... and the sweeper runs after the lease lapsed, handing the post to a follow-up run
    stack.clock.advance(PublishPolicy().lease + timedelta(minutes=1))
    stack.sweep()
    stack.fire_follow_ups()
    stack.sim.wait_idle()

    # Then the post ended as it must, and TikTok posted it at most once
    post = stack.post()
    assert post.status.value == ending, post.failure
    if ending == "published":
        assert stack.tiktok_posts() == 1
    else:
        assert post.failure is not None and post.failure.retryable and post.failure.message
        assert stack.tiktok_posts() == 0
    assert stack.schedules() == []
    # ... and nothing more happens on further sweeps and deliveries
    stack.clock.advance(timedelta(hours=1))
    assert stack.sweep()["posts_resumed"] == 0
    assert stack.invoke()["outcome"] == "skipped"
    assert stack.tiktok_posts() == (1 if ending == "published" else 0)


def test_p07_a_crash_between_published_and_the_video_deletion_is_mended_by_lambdas_retry(stack, monkeypatch):
    # Given a run that died between "published" and deleting the video
    stack.new_post()
    crash_once(monkeypatch, S3MediaStore, "delete", when="before")
    with pytest.raises(Crash):
        stack.invoke()
    assert stack.post().status is PostStatus.PUBLISHED
    assert stack.video_exists()

    # When Lambda retries the failed invocation
    assert stack.invoke()["outcome"] == "skipped"

    # Then the post is still published once, and its video is gone
    assert stack.post().status is PostStatus.PUBLISHED
    assert stack.tiktok_posts() == 1
    assert not stack.video_exists()


def test_p25_a_restriction_set_while_tiktok_has_the_video_lets_that_publish_finish_and_sends_nothing_more(
    stack, monkeypatch
):
    # Given a run that sent the video to TikTok and died before hearing the outcome
    stack.new_post()
    crash_once(monkeypatch, TikTokClient, "fetch_status", when="before")
    with pytest.raises(Crash):
        stack.invoke()
    sent = stack.sim.http.get("/_sim/publishes").json()
    assert len(sent) == 1

    # When the creator restricts processing before the run resumes
    table = boto3.resource("dynamodb").Table(stack.aws.function_environment("UploadFunction")["TABLE_NAME"])
    table.put_item(Item={**keys.profile_key("u-pub-1"), "restricted": True})
    stack.clock.advance(PublishPolicy().lease + timedelta(minutes=1))
    stack.sweep()
    stack.fire_follow_ups()
    stack.sim.wait_idle()

    # Then the publish TikTok already had is followed to its end (holding it would change nothing, the
    # video is at TikTok), with no new publish and no byte sent again
    assert stack.post().status is PostStatus.PUBLISHED
    [after] = stack.sim.http.get("/_sim/publishes").json()
    assert (after["publish_id"], after["received_bytes"]) == (sent[0]["publish_id"], sent[0]["received_bytes"])
    assert stack.tiktok_posts() == 1

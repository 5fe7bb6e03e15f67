"""A due post goes to TikTok once, ends published with TikTok's post id, and its video leaves S3 at once."""

from datetime import timedelta

import boto3

from flowctory.adapters import keys
from flowctory.models.posts import PostStage, PostStatus


def test_p07_p14_p20_a_due_post_is_published_once_with_its_post_id_and_the_video_deleted(stack):
    # Given a due post of a connected public creator, its real MP4 in the media bucket
    stack.new_post()

    # When its schedule fires
    result = stack.invoke()

    # Then TikTok made exactly one post, through the Content Posting API's Direct Post (P14)
    assert result["outcome"] == "published"
    assert stack.tiktok_posts() == 1
    published = stack.sim.published()["creators"][stack.open_id]["posts"][0]
    assert published["mode"] == "direct"
    assert published["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert published["sha256"] == __import__("hashlib").sha256(stack.video.data).hexdigest()
    # ... the post is published with TikTok's post id, its metadata kept 90 days (P20)
    post = stack.post()
    assert (post.status, post.stage) == (PostStatus.PUBLISHED, PostStage.DONE)
    assert post.publish_id == published["publish_id"]
    assert post.published_at is not None and post.expires_at is not None
    assert abs(post.expires_at - (post.published_at + timedelta(days=90))) <= timedelta(seconds=1)
    # ... and the video is gone from S3 at once (P07)
    assert not stack.video_exists()


def test_p08_a_post_published_before_moderation_gets_its_tiktok_post_id_when_it_turns_public(stack, webhook_receiver):
    # Given TikTok's moderation taking an hour: the publish completes with no public post id yet
    stack.sim.configure(moderation_delay_seconds=3600)
    stack.new_post()
    assert stack.invoke()["outcome"] == "published"
    assert stack.post().tiktok_post_id is None

    # When moderation passes and TikTok says so by webhook
    stack.sim.advance(3601)
    stack.sim.wait_for(lambda: len(webhook_receiver.received) >= 2)
    answers = stack.deliver_webhooks(webhook_receiver)

    # Then the post keeps its status and gains TikTok's post id (P08: shown in history)
    assert [a["outcome"] for a in answers] == ["processed", "processed"]
    post = stack.post()
    assert post.status is PostStatus.PUBLISHED
    assert post.tiktok_post_id == stack.sim.published()["creators"][stack.open_id]["posts"][0]["post_id"]


def test_a_duplicate_invocation_of_the_same_schedule_does_nothing(stack):
    # Given a post its schedule already published
    stack.new_post()
    assert stack.invoke()["outcome"] == "published"

    # When the schedule (or Lambda's retry) delivers the same event again, several times
    outcomes = [stack.invoke()["outcome"] for _ in range(3)]

    # Then nothing more happens: one TikTok post, the post unchanged
    assert outcomes == ["skipped"] * 3
    assert stack.tiktok_posts() == 1
    assert stack.post().status is PostStatus.PUBLISHED


def test_two_invocations_at_once_publish_once(stack):
    # Given a post claimed by a first invocation that is still running (its lease is held)
    stack.new_post()
    stack.posts.claim("u-pub-1", "post-1", attempt_id="first", now=stack.clock(), lease=timedelta(minutes=15))

    # When a second invocation of the same schedule arrives meanwhile
    second = stack.invoke()

    # Then it finds the post held and sends nothing to TikTok
    assert second["outcome"] == "skipped"
    assert stack.tiktok_posts() == 0
    assert stack.sim.http.get("/_sim/publishes").json() == []
    assert stack.post().attempt_id == "first"


def test_p25_a_restricted_users_post_is_held_not_published_nor_failed_and_resumes_when_lifted(stack):
    # Given a user who asked us to restrict the processing of their data
    stack.new_post()
    table = boto3.resource("dynamodb").Table(stack.aws.function_environment("UploadFunction")["TABLE_NAME"])
    table.put_item(Item={**keys.profile_key("u-pub-1"), "restricted": True})

    # When the post's schedule fires
    result = stack.invoke()

    # Then TikTok is never called for it, and the post waits, held, out of the sweeper's way
    assert result["outcome"] == "held"
    assert stack.sim.http.get("/_sim/publishes").json() == []
    post = stack.post()
    assert (post.status, post.stage, post.failure) == (PostStatus.PENDING, PostStage.HELD, None)
    assert stack.sweep()["posts_resumed"] == 0

    # When the restriction is lifted (the profile flag goes, the held posts are released)
    table.delete_item(Key=keys.profile_key("u-pub-1"))
    released = stack.posts.release_held("u-pub-1", now=stack.clock())

    # Then the sweep hands it back to the upload function, which publishes it once
    assert released == [post.post_id]
    stack.clock.now += timedelta(minutes=1)
    assert stack.sweep()["posts_resumed"] == 1
    assert stack.fire_follow_ups()[-1] == "published"
    assert stack.tiktok_posts() == 1


def test_a_privacy_level_the_creator_no_longer_offers_fails_before_any_init(stack):
    # Given a creator who made their account private after the post was scheduled for everyone
    stack.new_post()
    stack.sim.creator(stack.open_id, is_private=True)

    # When the schedule fires
    result = stack.invoke()

    # Then the fresh creator_info stops it before TikTok is asked to post, with a reason the creator can act on
    assert result["outcome"] == "failed"
    assert stack.sim.http.get("/_sim/publishes").json() == []
    failure = stack.post().failure
    assert failure is not None and failure.code == "no_longer_publishable"
    assert "audience" in failure.message and failure.retryable is False
    assert stack.video_exists()


def test_a_video_longer_than_the_creator_may_now_post_fails_before_any_init(stack):
    stack.new_post()
    stack.sim.creator(stack.open_id, max_video_post_duration_sec=1)

    assert stack.invoke()["outcome"] == "failed"

    assert stack.sim.http.get("/_sim/publishes").json() == []
    assert "seconds" in stack.post().failure.message


def test_a_cancelled_post_is_not_published(stack):
    stack.new_post()
    stack.posts.cancel("u-pub-1", "post-1", now=stack.clock())

    assert stack.invoke()["outcome"] == "skipped"
    assert stack.sim.http.get("/_sim/publishes").json() == []


def test_tokens_about_to_expire_are_refreshed_once_before_publishing(stack):
    # Given a post that comes due five minutes before the creator's access token expires
    account = stack.accounts.get("u-pub-1", stack.open_id)
    stack.clock.now = account.access_expires_at - timedelta(minutes=5)
    stack.new_post()

    # When its schedule fires
    assert stack.invoke()["outcome"] == "published"

    # Then the tokens were refreshed (and the rotated pair stored) before TikTok was called, and it posted once
    refreshed = stack.accounts.get("u-pub-1", stack.open_id)
    assert refreshed.token_version == account.token_version + 1
    assert refreshed.access_expires_at > account.access_expires_at
    assert stack.tiktok_posts() == 1

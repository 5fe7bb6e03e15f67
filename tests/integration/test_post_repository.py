"""Post state changes are conditional writes: each transition happens once, whoever races for it."""

from datetime import UTC, datetime, timedelta

import pytest

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.errors import Conflict
from flowctory.models.posts import Post, PostFailure, PostStage, PostStatus
from tests.helpers.posts import a_post

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)


@pytest.fixture
def posts(aws) -> PostRepository:
    return PostRepository(SingleTable(aws.ref("AppTable"), clock=lambda: NOW))


def new_post(post_id: str = "p1", *, scheduled_at: datetime = NOW + timedelta(hours=1)) -> Post:
    return a_post(post_id, now=NOW, scheduled_at=scheduled_at)


def test_p08_a_post_round_trips_with_every_field(posts):
    post = new_post()
    posts.create(post)
    assert posts.get("u1", "p1") == post


def test_a_second_invocation_finds_the_post_claimed_and_does_nothing(posts):
    # Given a pending post claimed by the first invocation of its schedule
    posts.create(new_post())
    first = posts.claim("u1", "p1", attempt_id="a1", now=NOW, lease=LEASE)

    # When the schedule (or Lambda's retry) delivers it again, several times
    for attempt in ("a2", "a3", "a4"):
        with pytest.raises(Conflict):
            posts.claim("u1", "p1", attempt_id=attempt, now=NOW + timedelta(seconds=30), lease=LEASE)

    # Then the first attempt still holds it, counted once.
    # (Concurrent claims are not raced here on purpose: moto does not serialise conditional writes
    # across threads the way DynamoDB does, so a threaded race would test moto, not this code.)
    claimed = posts.get("u1", "p1")
    assert (claimed.status, claimed.attempt_id, claimed.attempts) == (PostStatus.PROCESSING, "a1", 1)
    assert first.attempt_id == "a1"


def test_an_expired_lease_can_be_taken_over_and_the_old_attempt_is_locked_out(posts):
    posts.create(new_post())
    posts.claim("u1", "p1", attempt_id="first", now=NOW, lease=LEASE)

    with pytest.raises(Conflict):
        posts.claim("u1", "p1", attempt_id="second", now=NOW + LEASE - timedelta(seconds=1), lease=LEASE)
    taken = posts.claim("u1", "p1", attempt_id="second", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE)

    assert taken.attempts == 2
    with pytest.raises(Conflict):
        posts.record_publish_id("u1", "p1", attempt_id="first", publish_id="v_pub_1", now=NOW)


def test_an_attempt_that_lost_the_post_cannot_fail_it_under_the_attempt_that_took_over(posts):
    # Given a first attempt whose lease lapsed and a second one that took the post over
    posts.create(new_post())
    posts.claim("u1", "p1", attempt_id="first", now=NOW, lease=LEASE)
    posts.claim("u1", "p1", attempt_id="second", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE)
    failure = PostFailure(code="internal", message="TikTok had a problem on its side.", retryable=True)

    # When the first one gives up, Then it is refused: the second decides (it may well publish)
    with pytest.raises(Conflict):
        posts.mark_failed("u1", "p1", failure=failure, now=NOW + LEASE, attempt_id="first")
    assert posts.get("u1", "p1").status is PostStatus.PROCESSING
    # But the attempt holding it can (and TikTok's own verdict, a webhook, names no attempt at all)
    assert posts.mark_failed("u1", "p1", failure=failure, now=NOW + LEASE, attempt_id="second").status is (
        PostStatus.FAILED
    )


def test_the_publish_id_is_stored_once_and_never_replaced(posts):
    posts.create(new_post())
    posts.claim("u1", "p1", attempt_id="a1", now=NOW, lease=LEASE)
    stored = posts.record_publish_id("u1", "p1", attempt_id="a1", publish_id="v_pub_1", now=NOW)
    assert (stored.publish_id, stored.stage) == ("v_pub_1", PostStage.UPLOADING)
    with pytest.raises(Conflict):
        posts.record_publish_id("u1", "p1", attempt_id="a1", publish_id="v_pub_2", now=NOW)
    assert posts.get("u1", "p1").publish_id == "v_pub_1"


def test_p20_a_published_post_expires_90_days_after_publication(posts):
    posts.create(new_post())
    posts.claim("u1", "p1", attempt_id="a1", now=NOW, lease=LEASE)
    posts.record_publish_id("u1", "p1", attempt_id="a1", publish_id="v_pub_1", now=NOW)
    published_at = NOW + timedelta(minutes=3)

    published = posts.mark_published("u1", "p1", tiktok_post_id="7312345678901234567", now=published_at)

    assert published.status is PostStatus.PUBLISHED
    assert published.tiktok_post_id == "7312345678901234567"
    assert published.expires_at == published_at + timedelta(days=90)
    with pytest.raises(Conflict):
        posts.mark_failed("u1", "p1", failure=PostFailure(code="x", message="x", retryable=False), now=published_at)


def test_a_post_cannot_be_published_without_a_publish_id(posts):
    posts.create(new_post())
    posts.claim("u1", "p1", attempt_id="a1", now=NOW, lease=LEASE)
    with pytest.raises(Conflict):
        posts.mark_published("u1", "p1", tiktok_post_id=None, now=NOW)


def test_cancel_only_while_pending(posts):
    posts.create(new_post("p1"))
    posts.create(new_post("p2"))
    assert posts.cancel("u1", "p1", now=NOW).status is PostStatus.CANCELLED
    posts.claim("u1", "p2", attempt_id="a1", now=NOW, lease=LEASE)
    with pytest.raises(Conflict):
        posts.cancel("u1", "p2", now=NOW)
    with pytest.raises(Conflict):
        posts.claim("u1", "p1", attempt_id="a2", now=NOW, lease=LEASE)


def test_the_due_index_finds_lost_schedules_and_stuck_publishes_only(posts):
    # Given a post overdue (its schedule was lost), one in the future, one stuck past its lease,
    # one being published under a live lease, and one finished
    posts.create(new_post("overdue", scheduled_at=NOW - timedelta(minutes=5)))
    posts.create(new_post("future", scheduled_at=NOW + timedelta(hours=2)))
    posts.create(new_post("stuck", scheduled_at=NOW - timedelta(hours=1)))
    posts.claim("u1", "stuck", attempt_id="a1", now=NOW - timedelta(hours=1), lease=LEASE)
    posts.create(new_post("live", scheduled_at=NOW - timedelta(minutes=1)))
    posts.claim("u1", "live", attempt_id="a2", now=NOW, lease=LEASE)
    posts.create(new_post("done", scheduled_at=NOW - timedelta(hours=3)))
    posts.cancel("u1", "done", now=NOW)

    # Then the sweeper's query returns exactly the overdue and the stuck one
    assert sorted(posts.needing_attention(NOW)) == [("u1", "overdue"), ("u1", "stuck")]

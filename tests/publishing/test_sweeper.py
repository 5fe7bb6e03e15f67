"""The sweeper (purge, every 15 minutes) resumes posts whose schedule was lost and posts stuck past their lease."""

from datetime import timedelta

from flowctory.models.posts import PostStatus


def test_a_post_whose_schedule_was_lost_is_published_once_by_the_sweeper(stack):
    # Given a post due ten minutes ago whose schedule never fired
    stack.new_post(scheduled_at=stack.clock() - timedelta(minutes=10))

    # When the sweeper runs
    assert stack.sweep()["posts_resumed"] == 1

    # Then a follow-up run publishes it, once
    assert stack.fire_follow_ups() == ["published"]
    assert stack.post().status is PostStatus.PUBLISHED
    assert stack.tiktok_posts() == 1


def test_the_sweeper_leaves_future_held_and_finished_posts_alone(stack):
    # Given a post due in an hour, one held by a live attempt, and one published
    stack.new_post("later", scheduled_at=stack.clock() + timedelta(hours=1))
    stack.new_post("held")
    stack.posts.claim("u-pub-1", "held", attempt_id="live", now=stack.clock(), lease=timedelta(minutes=15))
    stack.new_post("done")
    assert stack.invoke("done")["outcome"] == "published"

    # When the sweeper runs
    result = stack.sweep()

    # Then it resumes none of them
    assert result["posts_resumed"] == 0
    assert stack.schedules() == []


def test_two_sweeps_before_the_follow_up_fires_resume_the_post_once(stack):
    stack.new_post(scheduled_at=stack.clock() - timedelta(minutes=10))

    assert stack.sweep()["posts_resumed"] == 1
    assert stack.sweep()["posts_resumed"] == 0

    assert stack.schedules() == ["post-post-1-sweep0"]
    assert stack.fire_follow_ups() == ["published"]
    assert stack.tiktok_posts() == 1

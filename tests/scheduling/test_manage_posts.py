"""Listing, reading, editing, cancelling and retrying posts; only ever the signed-in user's own."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.domain.chunks import plan_chunks
from flowctory.domain.compose import BRANDED_DECLARATION
from flowctory.models.posts import PostFailure
from flowctory.models.tiktok import PostInfo
from tests.scheduling.conftest import in_minutes, schedule_input


@pytest.fixture
def repository(schedule_env) -> PostRepository:
    return PostRepository(SingleTable(schedule_env.ref("AppTable")))


def fail(repository, creator, post_id, *, retryable: bool, publish_id: str | None = None) -> None:
    """What the upload function does to a post that failed: claim it, maybe init on TikTok, then fail it."""
    now = datetime.now(UTC)
    repository.claim(creator.user_id, post_id, attempt_id="attempt-1", now=now, lease=timedelta(minutes=5))
    if publish_id:
        repository.record_publish_id(creator.user_id, post_id, attempt_id="attempt-1", publish_id=publish_id, now=now)
    failure = PostFailure(code="internal", message="TikTok had a problem on its side.", retryable=retryable)
    repository.mark_failed(creator.user_id, post_id, failure=failure, now=now)


def test_edit_moves_the_schedule_and_rechecks_the_rules(creator, video_files, sim):
    # Given a pending post
    post = creator.schedule(video_files.mp4, scheduled_at=in_minutes(30)).body

    # When it is moved an hour later, with a new caption, given in New York local time
    new_york = (datetime.now(UTC) + timedelta(minutes=90)).astimezone(ZoneInfo("America/New_York"))
    wall_clock = new_york.replace(second=0, microsecond=0, tzinfo=None).isoformat()
    answer = creator.request(
        "PATCH",
        f"/posts/{post['id']}",
        json_body={"scheduled_at": wall_clock, "timezone": "America/New_York", "caption": "Moved"},
    )

    # Then the post and its one schedule both say the new time, in the new zone
    assert answer.status == 200, answer.body
    assert answer.body["caption"] == "Moved" and answer.body["timezone"] == "America/New_York"
    assert datetime.fromisoformat(answer.body["scheduled_at"]) == new_york.replace(second=0, microsecond=0)
    [definition] = creator.schedules().values()
    assert definition["ScheduleExpression"] == f"at({wall_clock})"
    assert definition["ScheduleExpressionTimezone"] == "America/New_York"
    assert creator.request("GET", f"/posts/{post['id']}").body["caption"] == "Moved"

    # And an edit the creator's settings do not allow is refused, changing nothing
    sim.creator(creator.open_id, stitch_disabled=True)
    refused = creator.request("PATCH", f"/posts/{post['id']}", json_body={"allow_stitch": True, "caption": "x"})
    assert refused.status == 422 and refused.body["error"]["fields"][0]["field"] == "allow_stitch"
    assert creator.request("GET", f"/posts/{post['id']}").body["caption"] == "Moved"


def test_edit_of_the_disclosure_needs_consent_to_its_declaration(creator, video_files):
    post = creator.schedule(video_files.mp4, privacy_level="PUBLIC_TO_EVERYONE").body
    branded = {"disclosure": {"enabled": True, "branded_content": True}}

    without_consent = creator.request("PATCH", f"/posts/{post['id']}", json_body=branded)
    assert without_consent.status == 422
    assert "consent" in {f["field"] for f in without_consent.body["error"]["fields"]}

    consented = creator.request("PATCH", f"/posts/{post['id']}", json_body={**branded, "consent": True})
    assert consented.status == 200, consented.body
    assert consented.body["consent"]["declaration"] == BRANDED_DECLARATION


def test_edit_out_of_the_window_is_refused_and_the_schedule_stays(creator, video_files):
    post = creator.schedule(video_files.mp4).body
    before = creator.schedules()
    answer = creator.request("PATCH", f"/posts/{post['id']}", json_body={"scheduled_at": in_minutes(25 * 60)})
    assert answer.status == 422
    assert (
        creator.schedules()[f"post-{post['id']}"]["ScheduleExpression"]
        == before[f"post-{post['id']}"]["ScheduleExpression"]
    )


def test_cancel_removes_the_schedule_and_only_a_pending_post_changes(creator, video_files, repository):
    # Given two pending posts
    kept = creator.schedule(video_files.mp4).body
    cancelled = creator.schedule(video_files.mp4).body

    # When one is cancelled
    answer = creator.request("DELETE", f"/posts/{cancelled['id']}")

    # Then it is cancelled, its schedule is gone, the other's stays
    assert answer.status == 200 and answer.body["status"] == "cancelled"
    assert set(creator.schedules()) == {f"post-{kept['id']}"}
    # And a cancelled post can be neither cancelled again nor edited
    assert creator.request("DELETE", f"/posts/{cancelled['id']}").status == 409
    assert creator.request("PATCH", f"/posts/{cancelled['id']}", json_body={"caption": "x"}).status == 409
    # Nor a post being published
    repository.claim(creator.user_id, kept["id"], attempt_id="a", now=datetime.now(UTC), lease=timedelta(minutes=5))
    assert creator.request("DELETE", f"/posts/{kept['id']}").status == 409
    assert creator.request("PATCH", f"/posts/{kept['id']}", json_body={"caption": "x"}).status == 409


def test_another_users_post_is_not_found_for_every_route(new_creator, video_files):
    # Given Ada's post
    ada, bob = new_creator(0), new_creator(1)
    post = ada.schedule(video_files.mp4).body

    # When Bob reads, edits, cancels or retries it
    answers = [
        bob.request("GET", f"/posts/{post['id']}"),
        bob.request("PATCH", f"/posts/{post['id']}", json_body={"caption": "mine now"}),
        bob.request("DELETE", f"/posts/{post['id']}"),
        bob.request("POST", f"/posts/{post['id']}/retry"),
    ]

    # Then each is a 404 without her data, her post is untouched and it is absent from his history
    for answer in answers:
        assert answer.status == 404, answer.body
        assert post["caption"] not in str(answer.body)
    assert ada.request("GET", f"/posts/{post['id']}").body == post
    assert bob.request("GET", "/posts").body == {"items": [], "next_cursor": None}
    assert f"post-{post['id']}" in ada.schedules() and bob.schedules() == {}


def test_p08_p11_history_pages_newest_first_with_filters_and_an_opaque_cursor(new_creator, video_files, repository):
    # Given five posts on two accounts, one of them failed
    creator = new_creator(0)
    upload_ids = [creator.upload(video_files.mp4) for _ in range(5)]
    ids = []
    for index, upload_id in enumerate(upload_ids):
        body = creator.post_body(upload_id, caption=f"post {index}", scheduled_at=in_minutes(30 + index))
        answer = creator.request("POST", "/posts", json_body=body)
        assert answer.status == 201, answer.body
        ids.append(answer.body["id"])
    fail(repository, creator, ids[1], retryable=True)

    # When the history is read two at a time
    pages, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = creator.request("GET", "/posts", query=query).body
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # Then every post appears once, newest first, and the cursor is opaque
    assert [post_id for page in pages for post_id in page] == list(reversed(ids))
    assert len(pages) == 3
    # And the failed post's status and readable reason are in the history, with the retry it allows (P11)
    failed = creator.request("GET", "/posts", query={"status": "failed"}).body["items"]
    assert [item["id"] for item in failed] == [ids[1]]
    assert failed[0]["failure"]["message"] == "TikTok had a problem on its side." and failed[0]["can_retry"] is True
    # And filters combine: account and a scheduled time range
    pending = creator.request("GET", "/posts", query={"status": "pending", "account": creator.open_id}).body
    assert len(pending["items"]) == 4
    assert creator.request("GET", "/posts", query={"account": "someone-else"}).body["items"] == []
    window = creator.request("GET", "/posts", query={"from": in_minutes(32.5), "to": in_minutes(60)}).body
    assert {item["caption"] for item in window["items"]} == {"post 3", "post 4"}
    # And a cursor that was tampered with is refused
    assert creator.request("GET", "/posts", query={"cursor": "eyJwayI6IlVTRVIjeCIsInNrIjoiUE9TVCN5In0"}).status == 400
    assert creator.request("GET", "/posts", query={"status": "lost"}).status == 422


def test_p11_retry_reopens_a_retryable_failure_and_schedules_it_now(creator, video_files, repository):
    # Given a post whose publish failed before TikTok received anything, for a reason a retry can help
    post = creator.schedule(video_files.mp4).body
    fail(repository, creator, post["id"], retryable=True)
    assert creator.request("GET", f"/posts/{post['id']}").body["can_retry"] is True

    # When the creator retries it
    before = datetime.now(UTC).replace(microsecond=0)
    answer = creator.request("POST", f"/posts/{post['id']}/retry")

    # Then it is pending again, for now, with its schedule, and the retry is counted
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "pending" and answer.body["failure"] is None
    assert answer.body["retries"] == 1
    assert datetime.fromisoformat(answer.body["scheduled_at"]) >= before
    assert f"post-{post['id']}" in creator.schedules()

    # And the free plan's single retry is then used up
    fail(repository, creator, post["id"], retryable=True)
    again = creator.request("POST", f"/posts/{post['id']}/retry")
    assert again.status == 403 and again.body["error"]["code"] == "plan_limit_reached"


def test_p11_no_retry_when_it_cannot_help(creator, video_files, repository):
    # Given a failure a retry cannot fix, and a post still pending
    hopeless = creator.schedule(video_files.mp4).body
    fail(repository, creator, hopeless["id"], retryable=False)
    pending = creator.schedule(video_files.mp4).body

    # Then neither offers a retry, and asking is refused without changing them
    for post in (hopeless, pending):
        assert creator.request("GET", f"/posts/{post['id']}").body["can_retry"] is False
        answer = creator.request("POST", f"/posts/{post['id']}/retry")
        assert answer.status == 409, answer.body
    assert creator.request("GET", f"/posts/{hopeless['id']}").body["status"] == "failed"
    assert creator.request("GET", f"/posts/{pending['id']}").body["status"] == "pending"


def test_p11_retry_after_a_tiktok_publish_asks_tiktok_first_and_never_posts_twice(
    creator, video_files, repository, client, sim
):
    # Given two failed posts that each had a real publish on TikTok (the simulator):
    # one whose upload never arrived (TikTok can never post it), one TikTok received whole
    video = video_files.mp4
    info = PostInfo(
        privacy_level="SELF_ONLY",
        title="x",
        disable_duet=True,
        disable_comment=True,
        disable_stitch=True,
        brand_content_toggle=False,
        brand_organic_toggle=False,
    )
    plan = plan_chunks(len(video.data))
    interrupted = creator.schedule(video).body
    lost_upload = client.init_direct_post(creator.access_token, info, plan)
    fail(repository, creator, interrupted["id"], retryable=True, publish_id=lost_upload.publish_id)
    received = creator.schedule(video).body
    whole = client.init_direct_post(creator.access_token, info, plan)
    client.upload(whole.upload_url, plan, [video.data], content_type="video/mp4")
    sim.wait_idle()
    fail(repository, creator, received["id"], retryable=True, publish_id=whole.publish_id)

    # When the creator retries both
    retried = creator.request("POST", f"/posts/{interrupted['id']}/retry")
    refused = creator.request("POST", f"/posts/{received['id']}/retry")

    # Then the one TikTok can never post starts over (its old publish dropped, so a new one is made)
    assert retried.status == 200, retried.body
    assert retried.body["status"] == "pending" and retried.body["publish_id"] is None
    assert f"post-{interrupted['id']}" in creator.schedules()
    # And the one TikTok has is refused and left as it was: a retry could post it twice
    assert refused.status == 409
    assert "TikTok already has this video" in refused.body["error"]["message"]
    after = creator.request("GET", f"/posts/{received['id']}").body
    assert after["status"] == "failed" and after["publish_id"] == whole.publish_id


def test_published_public_post_shows_its_tiktok_url_and_a_private_one_does_not(new_creator, video_files, repository):
    creator = new_creator(0)
    public = creator.schedule(video_files.mp4, privacy_level="PUBLIC_TO_EVERYONE").body
    private = creator.schedule(video_files.mp4, privacy_level="SELF_ONLY").body
    for post, tiktok_id in ((public, "7300000000000000001"), (private, "7300000000000000002")):
        now = datetime.now(UTC)
        repository.claim(creator.user_id, post["id"], attempt_id="a", now=now, lease=timedelta(minutes=5))
        repository.record_publish_id(creator.user_id, post["id"], attempt_id="a", publish_id="p-" + tiktok_id, now=now)
        repository.mark_published(creator.user_id, post["id"], tiktok_post_id=tiktok_id, now=now)

    shown = creator.request("GET", f"/posts/{public['id']}").body
    assert shown["status"] == "published" and shown["tiktok_post_id"] == "7300000000000000001"
    assert shown["tiktok_post_url"].startswith("https://www.tiktok.com/@")
    assert shown["tiktok_post_url"].endswith("/video/7300000000000000001")
    assert shown["published_at"] and shown["expires_at"]
    assert creator.request("GET", f"/posts/{private['id']}").body["tiktok_post_url"] is None


def test_reschedule_recreates_a_schedule_that_is_gone(creator, video_files):
    # Given a pending post whose schedule was lost
    post = creator.schedule(video_files.mp4).body
    boto3.client("scheduler").delete_schedule(Name=f"post-{post['id']}", GroupName=creator.schedule_group)

    # When it is moved
    answer = creator.request("PATCH", f"/posts/{post['id']}", json_body={"scheduled_at": in_minutes(50)})

    # Then it has a schedule again, at the new time
    assert answer.status == 200, answer.body
    [definition] = creator.schedules().values()
    assert schedule_input(definition) == {"user_id": creator.user_id, "post_id": post["id"]}

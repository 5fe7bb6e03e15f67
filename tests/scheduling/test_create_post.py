"""POST /posts: everything validated before a post is accepted, then one schedule per post."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from flowctory import wiring
from flowctory.domain.compose import BRANDED_DECLARATION, MUSIC_DECLARATION
from tests.scheduling.conftest import in_minutes, schedule_input


def fields_of(answer) -> dict[str, str]:
    return {f["field"]: f["problem"] for f in answer.body["error"].get("fields", [])}


def stored_posts(aws, user_id: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(aws.ref("AppTable"))
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"USER#{user_id}"})
    return [item for item in items["Items"] if item["sk"].startswith("POST#")]


def test_p08_created_post_stores_and_shows_every_field(creator, video_files, schedule_env):
    # Given an uploaded real MP4 and a connected account
    upload_id = creator.upload(video_files.mp4)
    body = creator.post_body(
        upload_id,
        caption="Hello 🌊 #sea",
        privacy_level="MUTUAL_FOLLOW_FRIENDS",
        allow_comment=True,
        allow_duet=True,
        disclosure={"enabled": True, "your_brand": True, "branded_content": False},
        is_aigc=True,
        cover_timestamp_ms=500,
        scheduled_at=in_minutes(45),
    )

    # When the post is created
    answer = creator.request("POST", "/posts", json_body=body)

    # Then it is pending and shows each field of P08, as chosen
    assert answer.status == 201, answer.body
    post = answer.body
    assert post["status"] == "pending" and post["stage"] == "scheduled"
    assert post["account"] == creator.open_id
    assert post["caption"] == "Hello 🌊 #sea"
    assert post["privacy_level"] == "MUTUAL_FOLLOW_FRIENDS"
    assert (post["allow_comment"], post["allow_duet"], post["allow_stitch"]) == (True, True, False)
    assert post["disclosure"] == {"enabled": True, "your_brand": True, "branded_content": False}
    assert post["is_aigc"] is True and post["cover_timestamp_ms"] == 500
    assert post["consent"]["declaration"] == MUSIC_DECLARATION
    assert datetime.fromisoformat(post["scheduled_at"]) == datetime.fromisoformat(body["scheduled_at"])
    assert post["timezone"] == "Europe/Paris"
    assert post["video"]["container"] == "mp4" and post["video"]["size"] == len(video_files.mp4.data)
    assert (post["video"]["width"], post["video"]["height"]) == (360, 640)
    assert post["video"]["uploaded_at"] and post["created_at"]
    assert post["tiktok_post_id"] is None and post["failure"] is None
    # And the same is what GET /posts/{id} and the table hold
    assert creator.request("GET", f"/posts/{post['id']}").body == post
    [item] = stored_posts(schedule_env, creator.user_id)
    assert item["caption"] == "Hello 🌊 #sea" and item["account_open_id"] == creator.open_id
    assert item["consent_declaration"] == MUSIC_DECLARATION and item["status"] == "pending"


def test_post_gets_one_schedule_at_its_time_in_the_users_zone_targeting_the_upload_function(
    creator, video_files, schedule_env
):
    # Given a Paris wall-clock time two hours ahead (inside the 24 h retention window)
    local = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Paris"))
    wall_clock = local.replace(second=0, microsecond=0, tzinfo=None).isoformat()

    # When it is created with a local time (no offset) and the profile's zone
    answer = creator.schedule(video_files.mp4, scheduled_at=wall_clock)

    # Then one schedule named after the post fires at that wall-clock time in that zone, once
    assert answer.status == 201, answer.body
    post_id = answer.body["id"]
    definition = creator.schedules()[f"post-{post_id}"]
    assert definition["ScheduleExpression"] == f"at({wall_clock})"
    assert definition["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert definition["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert definition["ActionAfterCompletion"] == "DELETE"
    target = definition["Target"]
    assert target["Arn"] == schedule_env.function_environment("ScheduleFunction")["UPLOAD_FUNCTION_ARN"]
    assert target["DeadLetterConfig"]["Arn"].endswith("PublishDeadLetterQueue")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert schedule_input(definition) == {"user_id": creator.user_id, "post_id": post_id}
    # And the stored instant is that wall-clock time in UTC
    assert datetime.fromisoformat(answer.body["scheduled_at"]) == local.replace(second=0, microsecond=0)


def test_now_is_a_schedule_for_now(creator, video_files):
    before = datetime.now(UTC).replace(microsecond=0)
    answer = creator.schedule(video_files.webm_vp9, scheduled_at="now")
    assert answer.status == 201, answer.body
    scheduled = datetime.fromisoformat(answer.body["scheduled_at"])
    assert before <= scheduled <= datetime.now(UTC)
    assert f"post-{answer.body['id']}" in creator.schedules()


@pytest.mark.parametrize("name", ["mp4_faststart", "mov", "webm_vp8"])
def test_each_container_tiktok_takes_is_accepted_from_its_own_boxes(creator, video_files, name):
    video = getattr(video_files, name)
    answer = creator.schedule(video)
    assert answer.status == 201, answer.body
    assert answer.body["video"]["container"] == video.container


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"privacy_level": None}, "privacy_level"),
        ({"privacy_level": "FOLLOWER_OF_CREATOR"}, "privacy_level"),  # a public account does not offer it
        ({"caption": "🌊" * 1101}, "caption"),  # 2202 UTF-16 units
        ({"disclosure": {"enabled": True, "your_brand": False, "branded_content": False}}, "disclosure"),
        (
            {"privacy_level": "SELF_ONLY", "disclosure": {"enabled": True, "branded_content": True}},
            "privacy_level",
        ),
        ({"consent": False}, "consent"),
        ({"disclosure": {"enabled": True, "branded_content": True}, "declaration": MUSIC_DECLARATION}, "consent"),
        ({"scheduled_at": "tomorrow at noon"}, "scheduled_at"),
        ({"timezone": "Mars/Olympus_Mons", "scheduled_at": "2026-12-04T18:00"}, "timezone"),
        ({"cover_timestamp_ms": 60_000}, "cover_timestamp_ms"),
    ],
)
def test_each_composer_rule_is_a_422_naming_its_field(creator, video_files, overrides, field):
    # Given a valid post but for one rule
    body = creator.post_body(creator.upload(video_files.mp4), **overrides)
    if body.get("privacy_level") is None:
        body.pop("privacy_level")

    # When it is sent
    answer = creator.request("POST", "/posts", json_body=body)

    # Then it is refused naming that field, and nothing is written or scheduled
    assert answer.status == 422, answer.body
    assert field in fields_of(answer), answer.body
    assert creator.request("GET", "/posts").body["items"] == []
    assert creator.schedules() == {}


def test_branded_content_with_its_declaration_is_accepted_and_recorded(creator, video_files):
    answer = creator.schedule(
        video_files.mp4,
        privacy_level="PUBLIC_TO_EVERYONE",
        disclosure={"enabled": True, "your_brand": True, "branded_content": True},
        declaration=BRANDED_DECLARATION,
    )
    assert answer.status == 201, answer.body
    assert answer.body["consent"]["declaration"] == BRANDED_DECLARATION


def test_interactions_the_creator_disabled_cannot_be_enabled(creator, video_files, sim):
    # Given a creator who turned Duet and comments off in TikTok
    sim.creator(creator.open_id, duet_disabled=True, comment_disabled=True)

    answer = creator.schedule(video_files.mp4, allow_duet=True, allow_comment=True)

    assert answer.status == 422
    assert {"allow_duet", "allow_comment"} <= set(fields_of(answer))


def test_video_longer_than_this_creators_maximum_is_refused(creator, video_files, sim):
    sim.creator(creator.open_id, max_video_post_duration_sec=60)
    answer = creator.schedule(video_files.long)
    assert answer.status == 422
    assert "60 seconds" in fields_of(answer)["video.duration"]


@pytest.mark.parametrize(("name", "field"), [("low_fps", "video.frame_rate"), ("small", "video.dimensions")])
def test_video_outside_tiktoks_limits_is_refused(creator, video_files, name, field):
    answer = creator.schedule(getattr(video_files, name))
    assert answer.status == 422
    assert field in fields_of(answer)


@pytest.mark.parametrize("name", ["not_video", "truncated", "no_moov"])
def test_files_that_lie_about_being_a_video_are_refused(creator, video_files, name):
    # Given a file uploaded as video/mp4 whose bytes are not a usable video
    answer = creator.schedule(getattr(video_files, name))

    # Then its own boxes give it away: 422 on `video`, nothing scheduled
    assert answer.status == 422
    assert "video" in fields_of(answer)
    assert creator.schedules() == {}


def test_a_webm_declared_as_mp4_is_judged_by_its_bytes(creator, video_files):
    answer = creator.schedule(video_files.webm_vp9)  # uploaded below with a lying Content-Type
    assert answer.status == 201
    upload_id = creator.upload(video_files.webm_vp9, content_type="video/mp4")
    lied = creator.request("POST", "/posts", json_body=creator.post_body(upload_id))
    assert lied.status == 201 and lied.body["video"]["container"] == "webm"


def test_oversized_object_is_refused_on_the_object_itself(creator, video_files, monkeypatch):
    # Given a deployment whose limit is below this file's size (TikTok's is 4 GB; S3 enforces the declared size)
    from flowctory import schedule_wiring

    original = schedule_wiring.scheduling

    def smaller_limit():
        deps = original()
        deps.max_video_bytes = 1000
        return deps

    upload_id = creator.upload(video_files.mp4)
    monkeypatch.setattr(schedule_wiring, "scheduling", smaller_limit)

    answer = creator.request("POST", "/posts", json_body=creator.post_body(upload_id))

    assert answer.status == 422
    assert "video" in fields_of(answer)


@pytest.mark.parametrize("when", [-10, 24 * 60])
def test_past_and_out_of_window_times_are_refused_saying_why(creator, video_files, when):
    answer = creator.schedule(video_files.mp4, scheduled_at=in_minutes(when))
    assert answer.status == 422
    problem = fields_of(answer)["scheduled_at"]
    assert ("future" in problem) if when < 0 else ("24 hours" in problem)
    assert creator.schedules() == {}


def test_a_wall_clock_time_skipped_by_dst_is_refused(creator, video_files):
    # 2027-03-28 02:30 does not exist in Paris (clocks jump from 02:00 to 03:00)
    answer = creator.schedule(video_files.mp4, scheduled_at="2027-03-28T02:30")
    assert answer.status == 422
    assert "does not exist" in fields_of(answer)["scheduled_at"]


def test_another_users_upload_and_account_are_not_found(new_creator, video_files):
    # Given two creators, each with an upload and an account
    ada, bob = new_creator(0), new_creator(1)
    ada_upload = ada.upload(video_files.mp4)
    bob_upload = bob.upload(video_files.mp4)

    # When Bob uses Ada's upload, or Ada's account
    with_her_upload = bob.request("POST", "/posts", json_body=bob.post_body(ada_upload))
    with_her_account = bob.request("POST", "/posts", json_body=bob.post_body(bob_upload, account=ada.open_id))

    # Then both are 404 that say nothing of Ada, and nothing is scheduled
    for answer in (with_her_upload, with_her_account):
        assert answer.status == 404
        assert ada.user_id not in json.dumps(answer.body) and ada_upload not in json.dumps(answer.body)
    assert bob.schedules() == {} and ada.schedules() == {}


def test_an_account_that_must_reconnect_is_refused(creator, video_files, schedule_env):
    from flowctory.adapters.dynamodb import SingleTable
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository

    TikTokAccountRepository(SingleTable(schedule_env.ref("AppTable"))).require_reconnect(
        creator.user_id, creator.open_id, reason="revoked"
    )
    answer = creator.schedule(video_files.mp4)
    assert answer.status == 422
    assert "account" in fields_of(answer)


def test_a_creator_tiktok_says_cannot_post_now_is_stopped(creator, video_files, sim):
    sim.creator(creator.open_id, banned=True)
    answer = creator.schedule(video_files.mp4)
    assert answer.status == 422
    assert answer.body["error"]["code"] == "tiktok_cannot_post_now"
    assert creator.schedules() == {}


def test_the_plan_limits_posts_per_month(creator, video_files, monkeypatch):
    # Given a free plan of one post a month
    plans = [
        {"id": "free", "name": "Free", "limits": {"tiktok_accounts": 1, "posts_per_month": 1, "retries_per_post": 1}}
    ]
    monkeypatch.setenv("PLANS_JSON", json.dumps(plans))
    wiring.reset()
    assert creator.schedule(video_files.mp4).status == 201

    # When a second post is scheduled the same month
    answer = creator.schedule(video_files.mp4)

    # Then the plan refuses it and only the first is scheduled
    assert answer.status == 403
    assert answer.body["error"]["code"] == "plan_limit_reached"
    assert len(creator.schedules()) == 1


def test_a_schedule_that_cannot_be_created_leaves_no_post_behind(creator, video_files, schedule_env):
    # Given EventBridge Scheduler refusing the schedule (its group is gone)
    scheduler = boto3.client("scheduler")
    group = schedule_env.ref("PostScheduleGroup")
    scheduler.delete_schedule_group(Name=group)

    # When a post is created
    try:
        answer = creator.schedule(video_files.mp4)
    finally:
        scheduler.create_schedule_group(Name=group)

    # Then the request fails and no half-written post remains
    assert answer.status == 500
    assert stored_posts(schedule_env, creator.user_id) == []


def test_one_upload_makes_one_post_until_that_post_is_cancelled(creator, video_files):
    # Given a post made from an upload
    upload_id = creator.upload(video_files.mp4)
    first = creator.request("POST", "/posts", json_body=creator.post_body(upload_id))
    assert first.status == 201

    # When a second post is made from the same upload (the video is deleted once one post is published)
    second = creator.request("POST", "/posts", json_body=creator.post_body(upload_id))

    # Then it is refused naming the upload, until the first post is cancelled
    assert second.status == 422 and "upload_id" in fields_of(second)
    assert creator.request("DELETE", f"/posts/{first.body['id']}").status == 200
    assert creator.request("POST", "/posts", json_body=creator.post_body(upload_id)).status == 201

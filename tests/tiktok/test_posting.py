"""Creator info, Direct Post and inbox init, status: every validation and limit of the reference."""

import pytest
from pydantic import ValidationError

from flowctory.adapters.tiktok import errors
from flowctory.domain.chunks import plan_chunks
from flowctory.models.tiktok import PostInfo
from tests.tiktok.conftest import WEB

pytestmark = pytest.mark.e2e

PUBLIC, PRIVATE, NO_DUET, SHORT = range(4)


def post_info(privacy="SELF_ONLY", **overrides):
    values = {
        "privacy_level": privacy,
        "title": "A video #test",
        "disable_duet": False,
        "disable_comment": False,
        "disable_stitch": False,
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
    }
    return PostInfo(**{**values, **overrides})


def raw_init(sim, token, body, path="/v2/post/publish/video/init/"):
    """An init sent as-is, for requests the typed client would never build."""
    return WEB.post(f"{sim.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


def token_of(grant):
    return grant.access_token.get_secret_value()


def good_body(**source):
    return {
        "post_info": post_info().to_api(),
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 1000,
            "chunk_size": 1000,
            "total_chunk_count": 1,
            **source,
        },
    }


def test_creator_info_per_creator(connect, client, sim):
    expected = {
        PUBLIC: (("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"), False, False, 600),
        PRIVATE: (("FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"), False, True, 300),
        NO_DUET: (("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"), True, True, 300),
        SHORT: (("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"), False, False, 60),
    }
    for index, (options, comment_off, duet_off, max_seconds) in expected.items():
        info = client.creator_info(connect(creator_index=index).grant.access_token)
        assert info.privacy_level_options == options
        assert (info.comment_disabled, info.duet_disabled, info.stitch_disabled) == (comment_off, duet_off, duet_off)
        assert info.max_video_post_duration_sec == max_seconds
        assert info.creator_nickname == sim.creators()[index]["display_name"]


def test_cannot_post_now_codes_arrive_with_http_200(connect, client, sim):
    grant = connect().grant
    open_id = grant.open_id

    sim.creator(open_id, banned=True)
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.creator_info(grant.access_token)
    assert (caught.value.tiktok_code, caught.value.http_status) == ("spam_risk_user_banned_from_posting", 200)

    sim.creator(open_id, banned=False)
    sim.configure(daily_post_cap=1)
    client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.creator_info(grant.access_token)
    assert caught.value.tiktok_code == "spam_risk_too_many_posts"
    assert caught.value.message == "TikTok limits how many posts an account can make per day; try again tomorrow."
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    assert caught.value.http_status == 403

    # A day later the cap has room again
    sim.advance(86_401)
    assert client.creator_info(client.refresh(grant.refresh_token).access_token).creator_username


def test_active_user_cap_of_the_client(connect, client, sim):
    sim.configure(active_user_cap=1)
    first, second = connect(creator_index=PUBLIC).grant, connect(creator_index=SHORT).grant
    client.init_direct_post(first.access_token, post_info(), plan_chunks(1000))
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.creator_info(second.access_token)
    assert caught.value.tiktok_code == "reached_active_user_cap"
    assert client.init_direct_post(first.access_token, post_info(), plan_chunks(1000)).publish_id


def test_privacy_must_be_one_of_the_creators_options(connect, client):
    grant = connect(creator_index=PRIVATE).grant
    with pytest.raises(errors.TikTokPrivacyMismatch) as caught:
        client.init_direct_post(grant.access_token, post_info("PUBLIC_TO_EVERYONE"), plan_chunks(1000))
    assert (caught.value.http_status, caught.value.retryable) == (403, False)
    assert client.init_direct_post(grant.access_token, post_info("FOLLOWER_OF_CREATOR"), plan_chunks(1000)).publish_id


def test_privacy_is_required(connect, sim):
    token = token_of(connect().grant)
    body = good_body()
    del body["post_info"]["privacy_level"]
    response = raw_init(sim, token, body)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "privacy_level_option_mismatch")


def test_branded_content_cannot_be_private(connect, sim):
    with pytest.raises(ValidationError):
        post_info("SELF_ONLY", brand_content_toggle=True)
    token = token_of(connect().grant)
    body = good_body()
    body["post_info"]["brand_content_toggle"] = True
    response = raw_init(sim, token, body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_params")


def test_title_length_is_counted_in_utf16_units(connect, client, sim):
    grant = connect().grant
    fits = "😀" * 1100  # 1100 emoji are 2200 UTF-16 units
    assert client.init_direct_post(grant.access_token, post_info(title=fits), plan_chunks(1000)).publish_id
    with pytest.raises(ValidationError):
        post_info(title=fits + "a")
    response = raw_init(
        sim, token_of(grant), {**good_body(), "post_info": {**good_body()["post_info"], "title": fits + "a"}}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_params")


@pytest.mark.parametrize(
    "source",
    [
        {"video_size": 50_000_123, "chunk_size": 10_000_000, "total_chunk_count": 4},
        {"video_size": 6_000_000, "chunk_size": 5_500_000, "total_chunk_count": 1},
        {"video_size": 100_000_000, "chunk_size": 100_000_000, "total_chunk_count": 1},
        {"video_size": 5_000_000_000, "chunk_size": 10_000_000, "total_chunk_count": 500},
        {"video_size": "1000"},
    ],
)
def test_chunk_rules_and_the_4_gb_cap(connect, sim, source):
    response = raw_init(sim, token_of(connect().grant), good_body(**source))
    body = response.json()
    assert response.status_code == 400
    assert body["error"] == {**body["error"], "code": "invalid_params", "message": "The chunk size is invalid"}


def test_invalid_params_surfaces_typed_with_tiktoks_message(connect, client, sim):
    from flowctory.domain.chunks import ChunkPlan

    bad_plan = ChunkPlan(video_size=50_000_123, chunk_size=10_000_000, total_chunk_count=4)
    with pytest.raises(errors.TikTokInvalidRequest) as caught:
        client.init_direct_post(connect().grant.access_token, post_info(), bad_plan)
    assert (caught.value.tiktok_code, caught.value.detail) == ("invalid_params", "The chunk size is invalid")
    assert caught.value.retryable is False


def test_rate_limits_per_token(connect, client, sim):
    grant = connect().grant
    for _ in range(6):
        client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    with pytest.raises(errors.TikTokRateLimited) as caught:
        client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    assert (caught.value.http_status, caught.value.retryable) == (429, True)

    for _ in range(20):
        client.creator_info(grant.access_token)
    with pytest.raises(errors.TikTokRateLimited):
        client.creator_info(grant.access_token)

    publish_id = client.init_direct_post(connect().grant.access_token, post_info(), plan_chunks(1000)).publish_id
    other = connect().grant
    for _ in range(30):
        client.fetch_status(other.access_token, publish_id)
    with pytest.raises(errors.TikTokRateLimited):
        client.fetch_status(other.access_token, publish_id)

    # The window is one minute
    sim.advance(61)
    assert client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000)).publish_id


def test_daily_post_cap_of_15(connect, client, sim):
    grant = connect().grant
    for batch in range(3):
        for _ in range(5):
            client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
        sim.advance(61)
        grant = client.refresh(grant.refresh_token) if batch == 1 else grant
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.init_direct_post(grant.access_token, post_info(), plan_chunks(1000))
    assert caught.value.tiktok_code == "spam_risk_too_many_posts" and caught.value.retryable is False


def test_unaudited_client_posts_only_privately_to_private_accounts(connect, client, sim):
    sim.configure(unaudited=True)
    public, private = connect(creator_index=PUBLIC).grant, connect(creator_index=PRIVATE).grant

    for grant, privacy in ((public, "SELF_ONLY"), (public, "PUBLIC_TO_EVERYONE"), (private, "FOLLOWER_OF_CREATOR")):
        with pytest.raises(errors.TikTokUnauditedClient) as caught:
            client.init_direct_post(grant.access_token, post_info(privacy), plan_chunks(1000))
        assert caught.value.tiktok_code == "unaudited_client_can_only_post_to_private_accounts"
    assert client.init_direct_post(private.access_token, post_info("SELF_ONLY"), plan_chunks(1000)).publish_id


def test_unaudited_client_serves_at_most_5_users_a_day(connect, client, sim):
    sim.configure(unaudited=True, unaudited_user_cap=1)
    creator = connect(creator_index=PRIVATE).grant
    client.init_direct_post(creator.access_token, post_info(), plan_chunks(1000))
    sim.creator(sim.creators()[SHORT]["open_id"], is_private=True)
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.init_direct_post(connect(creator_index=SHORT).grant.access_token, post_info(), plan_chunks(1000))
    assert caught.value.tiktok_code == "reached_active_user_cap"


def test_inbox_init_and_pending_share_cap(connect, client, sim):
    grant = connect().grant
    inits = [client.init_inbox_upload(grant.access_token, plan_chunks(1000)) for _ in range(5)]
    assert all(i.publish_id.startswith("v_inbox_file~v2.") for i in inits)
    sim.advance(61)
    with pytest.raises(errors.TikTokCannotPostNow) as caught:
        client.init_inbox_upload(grant.access_token, plan_chunks(1000))
    assert caught.value.tiktok_code == "spam_risk_too_many_pending_share"


def test_inbox_needs_video_upload_scope(connect, client):
    grant = connect(scopes=("user.info.basic", "video.publish")).grant
    with pytest.raises(errors.TikTokScopeMissing):
        client.init_inbox_upload(grant.access_token, plan_chunks(1000))


def test_publish_id_and_upload_url_formats(connect, client):
    init = client.init_direct_post(connect().grant.access_token, post_info(), plan_chunks(1000))
    assert init.publish_id.startswith("v_pub_file~v2-1.") and len(init.publish_id) <= 64
    assert init.upload_url is not None and len(init.upload_url.get_secret_value()) <= 256
    assert "upload_token=" in init.upload_url.get_secret_value()
    assert "upload_token" not in repr(init)


def test_status_of_someone_elses_publish_is_refused(connect, client):
    publish_id = client.init_direct_post(
        connect(creator_index=PUBLIC).grant.access_token, post_info(), plan_chunks(1000)
    ).publish_id
    other = connect(creator_index=SHORT).grant
    with pytest.raises(errors.TikTokInvalidRequest) as caught:
        client.fetch_status(other.access_token, publish_id)
    assert caught.value.tiktok_code == "token_not_authorized_for_specified_publish_id"
    with pytest.raises(errors.TikTokInvalidRequest) as caught:
        client.fetch_status(other.access_token, "v_pub_file~v2-1.1")
    assert caught.value.tiktok_code == "invalid_publish_id"

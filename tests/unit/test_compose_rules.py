"""TikTok's Direct Post composer rules (reference §6), enforced by the backend."""

from datetime import UTC, datetime, timedelta

import pytest

from flowctory.domain import compose
from flowctory.domain.compose import Disclosure, PostChoices
from flowctory.errors import ValidationFailed
from flowctory.media import VideoMetadata
from flowctory.models.tiktok import CreatorInfo

PUBLIC_CREATOR = CreatorInfo(
    creator_nickname="Public Creator",
    privacy_level_options=("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"),
    comment_disabled=False,
    duet_disabled=True,
    stitch_disabled=False,
    max_video_post_duration_sec=60,
)
GOOD_VIDEO = VideoMetadata(
    container="mp4", codec="h264", duration_seconds=12.0, width=720, height=1280, frame_rate=30.0
)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def choices(**overrides) -> PostChoices:
    values = {
        "caption": "Hello #tiktok",
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "allow_comment": True,
        "allow_duet": False,
        "allow_stitch": True,
        "disclosure": Disclosure(),
    }
    return PostChoices(**{**values, **overrides})


def problems(post: PostChoices, *, declaration: str | None = compose.MUSIC_DECLARATION) -> dict[str, str]:
    return compose.choice_problems(post, PUBLIC_CREATOR, accepted_declaration=declaration)


def test_a_well_formed_post_passes():
    assert problems(choices()) == {}
    compose.ensure_publishable(choices(), PUBLIC_CREATOR, GOOD_VIDEO, accepted_declaration=compose.MUSIC_DECLARATION)


def test_privacy_has_no_default_and_must_be_offered():
    assert "privacy_level" in problems(choices(privacy_level=None))
    assert "privacy_level" in problems(choices(privacy_level="FOLLOWER_OF_CREATOR"))


def test_an_interaction_the_creator_disabled_cannot_be_enabled():
    assert set(problems(choices(allow_duet=True))) == {"allow_duet"}


def test_disabled_interactions_are_sent_disabled_whatever_was_stored():
    info = compose.post_info(choices(allow_duet=False), PUBLIC_CREATOR)
    assert info.disable_duet is True
    assert info.disable_comment is False
    # and a creator who disables comments after scheduling gets them disabled at publish time
    stricter = PUBLIC_CREATOR.model_copy(update={"comment_disabled": True})
    assert compose.post_info(choices(), stricter).disable_comment is True


def test_caption_is_measured_in_utf16_units():
    emoji = "\N{GRINNING FACE}"  # outside the BMP: two UTF-16 units
    assert problems(choices(caption="a" * 2200)) == {}
    assert "caption" in problems(choices(caption=emoji * 1100 + "a"))


def test_disclosure_must_say_what_it_promotes():
    assert "disclosure" in problems(choices(disclosure=Disclosure(enabled=True)))


def test_branded_content_cannot_be_private():
    branded = Disclosure(enabled=True, branded_content=True)
    found = problems(choices(disclosure=branded, privacy_level="SELF_ONLY"), declaration=compose.BRANDED_DECLARATION)
    assert found["privacy_level"] == "Branded content visibility cannot be set to private."


@pytest.mark.parametrize(
    ("disclosure", "declaration"),
    [
        (Disclosure(), compose.MUSIC_DECLARATION),
        (Disclosure(enabled=True, your_brand=True), compose.MUSIC_DECLARATION),
        (Disclosure(enabled=True, branded_content=True), compose.BRANDED_DECLARATION),
        (Disclosure(enabled=True, your_brand=True, branded_content=True), compose.BRANDED_DECLARATION),
    ],
)
def test_the_declaration_follows_the_disclosure(disclosure, declaration):
    assert compose.declaration_for(disclosure) == declaration
    assert problems(choices(disclosure=disclosure), declaration=declaration) == {}
    other = compose.BRANDED_DECLARATION if declaration == compose.MUSIC_DECLARATION else compose.MUSIC_DECLARATION
    assert "consent" in problems(choices(disclosure=disclosure), declaration=other)
    assert "consent" in problems(choices(disclosure=disclosure), declaration=None)


def test_disclosure_maps_to_tiktok_toggles():
    both = Disclosure(enabled=True, your_brand=True, branded_content=True)
    info = compose.post_info(choices(disclosure=both), PUBLIC_CREATOR)
    assert (info.brand_organic_toggle, info.brand_content_toggle) == (True, True)
    off = compose.post_info(choices(disclosure=Disclosure(enabled=False, your_brand=True)), PUBLIC_CREATOR)
    assert (off.brand_organic_toggle, off.brand_content_toggle) == (False, False)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_seconds": 61.0}, "video.duration"),
        ({"frame_rate": 15.0}, "video.frame_rate"),
        ({"frame_rate": 120.0}, "video.frame_rate"),
        ({"width": 320}, "video.dimensions"),
        ({"height": 5000}, "video.dimensions"),
        ({"container": "matroska"}, "video"),
    ],
)
def test_video_limits(change, field):
    video = VideoMetadata(**{**GOOD_VIDEO.__dict__, **change})
    with pytest.raises(ValidationFailed) as raised:
        compose.ensure_publishable(choices(), PUBLIC_CREATOR, video, accepted_declaration=compose.MUSIC_DECLARATION)
    assert set(raised.value.fields) == {field}


def test_p07_a_post_must_be_published_well_before_its_video_is_purged():
    retention = timedelta(hours=24)
    uploaded = NOW - timedelta(hours=1)
    assert compose.time_problems(NOW + timedelta(hours=22), now=NOW, uploaded_at=uploaded, retention=retention) == {}
    late = compose.time_problems(NOW + timedelta(hours=23), now=NOW, uploaded_at=uploaded, retention=retention)
    assert "24 hours" in late["scheduled_at"]
    past = compose.time_problems(NOW - timedelta(minutes=1), now=NOW, uploaded_at=uploaded, retention=retention)
    assert past == {"scheduled_at": "Choose a time in the future."}

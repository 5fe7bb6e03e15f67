"""TikTok's Direct Post rules for what a creator may post, as the backend enforces them.

These are the content-sharing guidelines TikTok audits (reference §6): the privacy level is
always the creator's explicit choice among what creator_info offers, never a default; an
interaction the creator disabled stays disabled; a commercial disclosure names what it promotes;
branded content is never private; and the consent declaration shown matches the disclosure.
The same rules run when a post is scheduled and again, with fresh creator_info, when it publishes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flowctory.errors import ValidationFailed
from flowctory.media import VideoMetadata
from flowctory.models.tiktok import TITLE_MAX_UTF16, CreatorInfo, PostInfo, utf16_length

MUSIC_DECLARATION = "By posting, you agree to TikTok's Music Usage Confirmation."
BRANDED_DECLARATION = "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation."
LABEL_YOUR_BRAND = "Your photo/video will be labeled as 'Promotional content'"
LABEL_BRANDED = "Your photo/video will be labeled as 'Paid partnership'"

FRAME_RATE_RANGE = (23.0, 60.0)
SIDE_RANGE = (360, 4096)
ACCEPTED_CONTAINERS = {"mp4", "mov", "webm"}
# A post must start before its video is purged, with time to stream it to TikTok.
PUBLISH_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True)
class Disclosure:
    enabled: bool = False
    your_brand: bool = False
    branded_content: bool = False


@dataclass(frozen=True)
class PostChoices:
    """What the creator chose in the composer."""

    caption: str
    privacy_level: str | None
    allow_comment: bool
    allow_duet: bool
    allow_stitch: bool
    disclosure: Disclosure
    is_aigc: bool = False
    cover_timestamp_ms: int | None = None


def declaration_for(disclosure: Disclosure) -> str:
    """The consent text the composer shows before the publish button for this disclosure."""
    return BRANDED_DECLARATION if disclosure.enabled and disclosure.branded_content else MUSIC_DECLARATION


def choice_problems(choices: PostChoices, creator: CreatorInfo, *, accepted_declaration: str | None) -> dict[str, str]:
    """Each field the creator must change, with the reason in words they understand."""
    problems: dict[str, str] = {}
    if utf16_length(choices.caption) > TITLE_MAX_UTF16:
        problems["caption"] = f"The caption is longer than TikTok allows ({TITLE_MAX_UTF16} characters; emoji count 2)."
    if choices.privacy_level is None:
        problems["privacy_level"] = "Choose who can see this post."
    elif choices.privacy_level not in creator.privacy_level_options:
        problems["privacy_level"] = "This account cannot post with that audience now; choose one TikTok offers."
    for field, allowed, disabled in (
        ("allow_comment", choices.allow_comment, creator.comment_disabled),
        ("allow_duet", choices.allow_duet, creator.duet_disabled),
        ("allow_stitch", choices.allow_stitch, creator.stitch_disabled),
    ):
        if allowed and disabled:
            problems[field] = "This account has turned this interaction off in TikTok."
    disclosure = choices.disclosure
    if disclosure.enabled and not (disclosure.your_brand or disclosure.branded_content):
        problems["disclosure"] = "You need to indicate if your content promotes yourself, a third party, or both."
    if disclosure.enabled and disclosure.branded_content and choices.privacy_level == "SELF_ONLY":
        problems["privacy_level"] = "Branded content visibility cannot be set to private."
    if accepted_declaration != declaration_for(disclosure):
        problems["consent"] = "Accept the declaration shown for this post: " + declaration_for(disclosure)
    return problems


def video_problems(video: VideoMetadata, *, max_duration_seconds: int) -> dict[str, str]:
    problems: dict[str, str] = {}
    if video.container not in ACCEPTED_CONTAINERS:
        problems["video"] = "TikTok accepts MP4, MOV and WebM videos."
        return problems
    if video.duration_seconds > max_duration_seconds:
        problems["video.duration"] = (
            f"This account can post videos of up to {max_duration_seconds} seconds; "
            f"this one lasts {video.duration_seconds:.0f}."
        )
    low_rate, high_rate = FRAME_RATE_RANGE
    if video.frame_rate is not None and not low_rate <= video.frame_rate <= high_rate:
        problems["video.frame_rate"] = f"TikTok needs 23 to 60 frames per second; this video has {video.frame_rate:g}."
    low_side, high_side = SIDE_RANGE
    if not (low_side <= video.width <= high_side and low_side <= video.height <= high_side):
        problems["video.dimensions"] = (
            f"Each side must be 360 to 4096 pixels; this video is {video.width}x{video.height}."
        )
    return problems


def time_problems(
    scheduled_at: datetime, *, now: datetime, uploaded_at: datetime, retention: timedelta
) -> dict[str, str]:
    latest = uploaded_at + retention - PUBLISH_MARGIN
    if scheduled_at < now - timedelta(seconds=5):
        return {"scheduled_at": "Choose a time in the future."}
    if scheduled_at > latest:
        hours = int(retention.total_seconds() // 3600)
        return {
            "scheduled_at": f"We keep a video at most {hours} hours after upload, so it must be published "
            f"by {latest.isoformat(timespec='minutes')}. Upload it again closer to the time."
        }
    return {}


def ensure_publishable(
    choices: PostChoices,
    creator: CreatorInfo,
    video: VideoMetadata,
    *,
    accepted_declaration: str | None,
) -> None:
    """Raises:
    ValidationFailed: naming every field to change.
    """
    problems = {
        **choice_problems(choices, creator, accepted_declaration=accepted_declaration),
        **video_problems(video, max_duration_seconds=creator.max_video_post_duration_sec),
    }
    if problems:
        raise ValidationFailed(problems)


def post_info(choices: PostChoices, creator: CreatorInfo) -> PostInfo:
    """The Direct Post `post_info`: interactions the creator disabled are sent disabled whatever was stored."""
    if choices.privacy_level is None:
        raise ValidationFailed({"privacy_level": "Choose who can see this post."})
    disclosure = choices.disclosure
    return PostInfo(
        privacy_level=choices.privacy_level,
        title=choices.caption or None,
        disable_comment=not choices.allow_comment or creator.comment_disabled,
        disable_duet=not choices.allow_duet or creator.duet_disabled,
        disable_stitch=not choices.allow_stitch or creator.stitch_disabled,
        video_cover_timestamp_ms=choices.cover_timestamp_ms,
        brand_content_toggle=disclosure.enabled and disclosure.branded_content,
        brand_organic_toggle=disclosure.enabled and disclosure.your_brand,
        is_aigc=choices.is_aigc,
    )

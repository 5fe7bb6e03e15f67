"""Requests and answers of the scheduling API: presigned uploads and posts.

A post's answer shows every field we store about it (promise P08) except the publish lease's
internals, plus what the history needs: the wall-clock time in the creator's zone, a readable
failure with whether a retry can help (P11), and the TikTok post's URL once it is public.
"""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from flowctory.models.base import Model
from flowctory.models.posts import Post, PostStage, PostStatus

UPLOAD_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
PUBLIC_PRIVACY = "PUBLIC_TO_EVERYONE"


class _Request(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadRequest(_Request):
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(min_length=1, max_length=100)]
    size: Annotated[int, Field(gt=0)]


class UploadTicket(Model):
    """A browser form POST straight to S3: send `fields` then the file as `file` to `url`."""

    upload_id: str
    url: str
    method: str = "POST"
    fields: dict[str, str]
    max_size: int
    expires_at: datetime


class DisclosureIn(_Request):
    enabled: bool = False
    your_brand: bool = False
    branded_content: bool = False


class PostChoicesIn(_Request):
    """The composer's choices. Interactions are off unless turned on; privacy has no default (audit 2b, 2c)."""

    caption: Annotated[str, Field(max_length=10_000)] = ""
    privacy_level: Annotated[str | None, Field(max_length=40)] = None
    allow_comment: bool = False
    allow_duet: bool = False
    allow_stitch: bool = False
    disclosure: DisclosureIn = DisclosureIn()
    is_aigc: bool = False
    cover_timestamp_ms: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None


class CreatePostRequest(PostChoicesIn):
    upload_id: Annotated[str, Field(pattern=UPLOAD_ID_PATTERN)]
    account: Annotated[str, Field(min_length=1, max_length=128)]
    scheduled_at: Annotated[str, Field(min_length=3, max_length=64, description='ISO 8601, or "now"')]
    timezone: Annotated[str | None, Field(max_length=64)] = None
    consent: bool = False
    declaration: Annotated[str | None, Field(max_length=500)] = None


class EditPostRequest(_Request):
    """Only the fields sent change. A new disclosure needs `consent` to its declaration again."""

    caption: Annotated[str | None, Field(max_length=10_000)] = None
    privacy_level: Annotated[str | None, Field(max_length=40)] = None
    allow_comment: bool | None = None
    allow_duet: bool | None = None
    allow_stitch: bool | None = None
    disclosure: DisclosureIn | None = None
    is_aigc: bool | None = None
    cover_timestamp_ms: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    scheduled_at: Annotated[str | None, Field(min_length=3, max_length=64)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    consent: bool | None = None
    declaration: Annotated[str | None, Field(max_length=500)] = None


class DisclosureView(Model):
    enabled: bool
    your_brand: bool
    branded_content: bool


class ConsentView(Model):
    declaration: str
    accepted_at: datetime


class VideoView(Model):
    size: int
    container: str
    duration_seconds: float
    width: int
    height: int
    frame_rate: float | None
    uploaded_at: datetime


class FailureView(Model):
    code: str
    message: str
    retryable: bool


class PostView(Model):
    id: str
    status: PostStatus
    stage: PostStage
    account: str
    caption: str
    privacy_level: str
    allow_comment: bool
    allow_duet: bool
    allow_stitch: bool
    disclosure: DisclosureView
    is_aigc: bool
    cover_timestamp_ms: int | None
    consent: ConsentView
    scheduled_at: datetime
    timezone: str
    scheduled_at_local: str
    video: VideoView
    attempts: int
    retries: int
    uploaded_bytes: int
    publish_id: str | None
    tiktok_post_id: str | None
    tiktok_post_url: str | None
    failure: FailureView | None
    can_retry: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, post: Post) -> "PostView":
        video = post.video
        return cls(
            id=post.post_id,
            status=post.status,
            stage=post.stage,
            account=post.account_open_id,
            caption=post.caption,
            privacy_level=post.privacy_level,
            allow_comment=post.allow_comment,
            allow_duet=post.allow_duet,
            allow_stitch=post.allow_stitch,
            disclosure=DisclosureView(
                enabled=post.disclosure_enabled, your_brand=post.your_brand, branded_content=post.branded_content
            ),
            is_aigc=post.is_aigc,
            cover_timestamp_ms=post.cover_timestamp_ms,
            consent=ConsentView(declaration=post.consent_declaration, accepted_at=post.consent_at),
            scheduled_at=post.scheduled_at,
            timezone=post.timezone,
            scheduled_at_local=post.scheduled_at.astimezone(ZoneInfo(post.timezone)).isoformat(timespec="minutes"),
            video=VideoView(
                size=video.size,
                container=video.container,
                duration_seconds=video.duration_seconds,
                width=video.width,
                height=video.height,
                frame_rate=video.frame_rate,
                uploaded_at=video.uploaded_at,
            ),
            attempts=post.attempts,
            retries=post.retries,
            # TikTok published it, so every byte arrived (the last progress write is skipped to save a call).
            uploaded_bytes=video.size if post.status is PostStatus.PUBLISHED else post.uploaded_bytes,
            publish_id=post.publish_id,
            tiktok_post_id=post.tiktok_post_id,
            tiktok_post_url=tiktok_post_url(post),
            failure=FailureView(**post.failure.model_dump()) if post.failure else None,
            can_retry=retry_can_help(post),
            created_at=post.created_at,
            updated_at=post.updated_at,
            published_at=post.published_at,
            finished_at=post.finished_at,
            expires_at=post.expires_at,
        )


class PostPage(Model):
    items: list[PostView]
    next_cursor: str | None


def tiktok_post_url(post: Post) -> str | None:
    """The post's address on TikTok, once it is published to everyone (a private post has no public page)."""
    public = post.status is PostStatus.PUBLISHED and post.privacy_level == PUBLIC_PRIVACY
    if not public or not post.tiktok_post_id or not post.creator_username:
        return None
    return f"https://www.tiktok.com/@{post.creator_username}/video/{post.tiktok_post_id}"


def retry_can_help(post: Post) -> bool:
    """Whether the history offers a retry: a failure the publisher judged a retry can fix (TikTok did not
    post it). When TikTok had a publish for it, the retry itself asks TikTok again before starting over."""
    return post.status is PostStatus.FAILED and post.failure is not None and post.failure.retryable

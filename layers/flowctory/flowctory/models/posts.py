"""A scheduled post, as the domain sees it.

`status` is what the privacy policy and the creator see (pending, processing, published, failed,
plus cancelled); `stage` is the finer step inside `processing`. Times are UTC instants; the
creator's IANA timezone is kept beside `scheduled_at` so the console can show their wall clock.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from flowctory.models.base import Model


class PostStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PostStage(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"  # its time came while the user restricted processing; lifting the restriction resumes it
    STARTING = "starting"
    UPLOADING = "uploading"
    TIKTOK_PROCESSING = "tiktok_processing"
    AWAITING_MODERATION = "awaiting_moderation"
    DONE = "done"


class VideoFacts(Model):
    model_config = ConfigDict(frozen=True)

    key: str
    size: int = Field(ge=0)
    container: str
    duration_seconds: float
    width: int
    height: int
    frame_rate: float | None
    uploaded_at: datetime


class PostFailure(Model):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    retryable: bool


class Post(Model):
    model_config = ConfigDict(frozen=True)

    post_id: str
    user_id: str
    account_open_id: str
    creator_username: str | None = None  # TikTok @handle at compose time: builds the post's public URL
    caption: str
    privacy_level: str
    allow_comment: bool
    allow_duet: bool
    allow_stitch: bool
    disclosure_enabled: bool = False
    your_brand: bool = False
    branded_content: bool = False
    is_aigc: bool = False
    cover_timestamp_ms: int | None = None
    consent_declaration: str
    consent_at: datetime
    scheduled_at: datetime
    timezone: str
    video: VideoFacts
    status: PostStatus = PostStatus.PENDING
    stage: PostStage = PostStage.SCHEDULED
    attempts: int = 0
    retries: int = 0  # manual retries the creator asked for (the plan limits them)
    attempt_id: str | None = None
    lease_until: datetime | None = None
    publish_id: str | None = None
    tiktok_post_id: str | None = None
    uploaded_bytes: int = 0
    failure: PostFailure | None = None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None

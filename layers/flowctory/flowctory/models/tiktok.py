"""TikTok API payloads, as the client sends and reads them (field names are TikTok's, typos included).

Responses ignore fields they do not know (TikTok adds some) but reject a known field of the wrong
type. Tokens are SecretStr, so no repr, log line or exception shows them. Ids that can exceed 2^53
(post ids) are kept as strings.
"""

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator

from flowctory.models.base import Model

PrivacyLevel = Literal["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
PublishStatusValue = Literal[
    "PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE", "FAILED"
]
TITLE_MAX_UTF16 = 2200


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, TikTok's "runes": an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class _Response(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TokenGrant(_Response):
    """A token response (code exchange or refresh). Lifetimes come from here, never from constants."""

    access_token: SecretStr
    refresh_token: SecretStr
    open_id: str = Field(min_length=1)
    scope: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = ()
    expires_in: int = Field(gt=0)
    refresh_expires_in: int = Field(gt=0)
    token_type: str = "Bearer"  # noqa: S105 (a scheme name, not a secret)

    @field_validator("access_token", "refresh_token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("empty token")
        return value

    def access_expires_at(self, issued_at: datetime) -> datetime:
        return issued_at + timedelta(seconds=self.expires_in)

    def refresh_expires_at(self, issued_at: datetime) -> datetime:
        return issued_at + timedelta(seconds=self.refresh_expires_in)


class UserInfo(_Response):
    """`/v2/user/info/`: only the fields asked for (and granted) are present."""

    open_id: str | None = None
    union_id: str | None = None
    avatar_url: str | None = None
    avatar_url_100: str | None = None
    avatar_large_url: str | None = None
    display_name: str | None = None
    bio_description: str | None = None
    profile_deep_link: str | None = None
    is_verified: bool | None = None
    username: str | None = None
    follower_count: int | None = None
    following_count: int | None = None
    likes_count: int | None = None
    video_count: int | None = None


class CreatorInfo(_Response):
    """`creator_info/query`: what this creator may post now, fetched fresh for every compose and publish."""

    creator_avatar_url: str = ""
    creator_username: str = ""
    creator_nickname: str = ""
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int = Field(gt=0)


class PostInfo(Model):
    """`post_info` of a Direct Post video init. No defaults for the creator's choices (audit rule 2b/2c)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    privacy_level: PrivacyLevel
    title: str | None = None
    disable_duet: bool
    disable_comment: bool
    disable_stitch: bool
    video_cover_timestamp_ms: int | None = Field(default=None, ge=0)
    brand_content_toggle: bool
    brand_organic_toggle: bool
    is_aigc: bool = False

    @field_validator("title")
    @classmethod
    def _title_fits(cls, value: str | None) -> str | None:
        if value is not None and utf16_length(value) > TITLE_MAX_UTF16:
            raise ValueError(f"the caption is longer than TikTok's {TITLE_MAX_UTF16} UTF-16 units")
        return value

    @model_validator(mode="after")
    def _branded_content_is_not_private(self) -> "PostInfo":
        if self.brand_content_toggle and self.privacy_level == "SELF_ONLY":
            raise ValueError("branded content cannot be private (SELF_ONLY)")
        return self

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class PublishInit(_Response):
    """An init's answer. `upload_url` carries an upload token, so it is a secret too."""

    publish_id: str = Field(min_length=1, max_length=64)
    upload_url: SecretStr | None = None


def _post_ids(value: Any) -> Any:
    """TikTok documents a list of int64 and has been seen sending a scalar: accept both, keep strings."""
    if value is None or value == "":
        return ()
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, list | tuple):
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in value):
            raise ValueError("post ids must be integers or strings")
        return tuple(str(item) for item in value)
    raise ValueError("post ids must be a list or a scalar")


class PublishStatus(_Response):
    """`status/fetch`. FAILED is data here (error.code is "ok"): `fail_reason` says why."""

    status: PublishStatusValue
    fail_reason: str | None = None
    publicaly_available_post_id: Annotated[tuple[str, ...], BeforeValidator(_post_ids)] = ()
    uploaded_bytes: int | None = None
    downloaded_bytes: int | None = None

    @property
    def post_ids(self) -> tuple[str, ...]:
        return self.publicaly_available_post_id

    @property
    def is_final(self) -> bool:
        return self.status in ("PUBLISH_COMPLETE", "FAILED")


class WebhookEvent(_Response):
    """A TikTok webhook delivery; `content` arrives as a JSON string and is parsed into a dict."""

    client_key: str
    event: str
    create_time: int
    user_openid: str
    content: dict[str, Any]

    @property
    def idempotency_key(self) -> str:
        """TikTok delivers at least once: the same key means the same event."""
        parts = [
            self.event,
            self.user_openid,
            str(self.content.get("publish_id", "")),
            str(self.content.get("post_id", "")),
        ]
        return "|".join([*parts, str(self.create_time)])

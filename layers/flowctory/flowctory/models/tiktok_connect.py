"""What the TikTok connection API returns: accounts and creator info, never a token (promise P05)."""

from datetime import datetime

from flowctory.models.base import Model
from flowctory.models.tiktok_accounts import TikTokAccount


class AccountView(Model):
    """A connected account as the app shows it: never a token (promise P05)."""

    open_id: str
    display_name: str
    avatar_url: str
    status: str
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    connected_at: datetime

    @classmethod
    def of(cls, account: TikTokAccount) -> "AccountView":
        return cls(**account.model_dump(include=set(cls.model_fields)))


class AccountList(Model):
    accounts: list[AccountView]


class CreatorInfoView(Model):
    open_id: str
    can_post: bool
    reason: str | None = None
    nickname: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    privacy_level_options: list[str] = []
    comment_disabled: bool | None = None
    duet_disabled: bool | None = None
    stitch_disabled: bool | None = None
    max_video_post_duration_sec: int | None = None


class Disconnected(Model):
    open_id: str
    cancelled_posts: list[str]

"""A TikTok account connected to a Flowctory user (promise P04: open_id, display name, avatar URL)."""

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict

from flowctory.models.base import Model


class AccountStatus(StrEnum):
    ACTIVE = "active"
    RECONNECT_REQUIRED = "reconnect_required"


class TikTokAccount(Model):
    """What we keep of a connected account. The tokens are the KMS ciphertext `sealed_tokens`, nothing else."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    open_id: str
    display_name: str
    avatar_url: str
    scopes: tuple[str, ...]
    status: AccountStatus
    connected_at: datetime
    sealed_tokens: bytes | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    token_version: int = 0
    refresh_lease_until: datetime | None = None
    reconnect_reason: str | None = None

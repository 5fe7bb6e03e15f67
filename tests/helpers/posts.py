"""A post as the composer stores it, for tests that put posts in the table without composing them."""

from datetime import datetime, timedelta
from typing import Any

from flowctory.domain.compose import MUSIC_DECLARATION
from flowctory.models.posts import Post, VideoFacts


def a_post(
    post_id: str, *, user_id: str = "u1", open_id: str = "open-1", now: datetime, scheduled_at: datetime, **changes: Any
) -> Post:
    """A waiting post of a 12.5 s portrait MP4 uploaded five minutes before `now`; `changes` set any other field."""
    fields: dict[str, Any] = {
        "post_id": post_id,
        "user_id": user_id,
        "account_open_id": open_id,
        "caption": "Hello #tiktok",
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "allow_comment": True,
        "allow_duet": False,
        "allow_stitch": False,
        "consent_declaration": MUSIC_DECLARATION,
        "consent_at": now,
        "scheduled_at": scheduled_at,
        "timezone": "Europe/Paris",
        "video": VideoFacts(
            key=f"videos/{user_id}/{post_id}",
            size=1_000_000,
            container="mp4",
            duration_seconds=12.5,
            width=720,
            height=1280,
            frame_rate=29.97,
            uploaded_at=now - timedelta(minutes=5),
        ),
        "created_at": now,
        "updated_at": now,
    }
    return Post(**{**fields, **changes})

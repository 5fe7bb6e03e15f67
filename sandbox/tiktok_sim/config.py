"""The simulator's switches and its sandbox creators.

Every point TikTok's documentation leaves UNSURE is a switch here, so tests can hold the client to
both readings: PKCE encodings, MB units, OAuth error statuses, token lifetimes, the resume header.
"""

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

PUBLIC_OPTIONS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
PRIVATE_OPTIONS = ("FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")

# (access token seconds, refresh token seconds, strict rotation)
LIFETIME_PROFILES: dict[str, tuple[int, int, bool]] = {
    "legacy": (86_400, 31_536_000, False),
    "2026": (7_200, 15_552_000, True),
}

DEFAULT_RATE_LIMITS: dict[str, int] = {
    "creator_info": 20,
    "video_init": 6,
    "inbox_init": 6,
    "status": 30,
    "user_info": 600,
    "cancel": 30,
}


@dataclass
class Creator:
    """A sandbox TikTok account the authorize page offers."""

    open_id: str
    union_id: str
    username: str
    display_name: str
    is_private: bool = False
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    banned: bool = False
    is_verified: bool = False
    bio_description: str = ""
    follower_count: int = 0

    @property
    def privacy_level_options(self) -> tuple[str, ...]:
        return PRIVATE_OPTIONS if self.is_private else PUBLIC_OPTIONS

    def avatar_url(self, base_url: str) -> str:
        return f"{base_url}/avatars/{self.username}.png"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "privacy_level_options": list(self.privacy_level_options)}


def default_creators() -> list[Creator]:
    return [
        Creator(
            open_id="sim-0001-public-4f0c-9a7e-5b1d2c3e4f50",
            union_id="u-sim-public",
            username="ava.public",
            display_name="Ava (public)",
            max_video_post_duration_sec=600,
            follower_count=1200,
        ),
        Creator(
            open_id="sim-0002-private-7c1e-8d2f-6a3b4c5d6e70",
            union_id="u-sim-private",
            username="ben.private",
            display_name="Ben (private)",
            is_private=True,
            duet_disabled=True,
            stitch_disabled=True,
            max_video_post_duration_sec=300,
        ),
        Creator(
            open_id="sim-0003-noduet-1a2b-3c4d-5e6f7a8b9c00",
            union_id="u-sim-noduet",
            username="cleo.noduet",
            display_name="Cleo (duet and stitch off)",
            comment_disabled=True,
            duet_disabled=True,
            stitch_disabled=True,
            max_video_post_duration_sec=300,
        ),
        Creator(
            open_id="sim-0004-short-9e8d-7c6b-5a4f3e2d1c00",
            union_id="u-sim-short",
            username="dan.short",
            display_name="Dan (60 s max)",
            max_video_post_duration_sec=60,
        ),
    ]


@dataclass
class SimulatorConfig:
    client_key: str = "sbawflowctorysim"
    client_secret: str = "sim-client-secret-change-me"  # noqa: S105 (a local simulator's fixture)
    redirect_uris: list[str] = field(
        default_factory=lambda: [
            "http://localhost:3000/api/tiktok/callback",
            "http://127.0.0.1:3000/api/tiktok/callback",
        ]
    )
    client_type: Literal["web", "desktop"] = "web"
    pkce: Literal["off", "optional", "required"] = "required"
    pkce_accept_base64url: bool = False
    lifetime_profile: Literal["legacy", "2026"] = "2026"
    oauth_error_status: int = 200  # TikTok was seen answering invalid_grant with HTTP 200
    code_ttl_seconds: int = 600
    unaudited: bool = False
    unaudited_user_cap: int = 5
    daily_post_cap: int = 15
    pending_share_cap: int = 5
    active_user_cap: int | None = None
    mb_unit: Literal["decimal", "binary"] = "decimal"
    strict_single_chunk: bool = True  # also refuse one chunk whose chunk_size != video_size
    require_brand_content_toggle: bool = False
    upload_url_ttl_seconds: int = 3600
    upload_base_url: str | None = None  # default: this server's own root
    content_range_style: Literal["inclusive", "count"] = "inclusive"
    post_id_format: Literal["list", "scalar"] = "list"
    processing_delay_seconds: float = 1.0
    moderation_delay_seconds: float = 2.0
    min_duration_seconds: float | None = None
    inbox_max_duration_seconds: int = 600
    verified_url_prefixes: list[str] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_retry_base_seconds: float = 1.0
    webhook_max_attempts: int = 10
    webhook_horizon_seconds: int = 72 * 3600
    webhook_duplicates: int = 0  # extra deliveries of every event (TikTok delivers at least once)
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    direct_publish_type: str = "DIRECT_PUBLISH"

    def updated(self, changes: dict[str, Any]) -> "SimulatorConfig":
        """A copy with `changes` applied; unknown names or wrong types raise ValueError."""
        known = {f.name: f for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        candidate = replace(self, **changes)
        candidate.check()
        return candidate

    def check(self) -> None:
        if self.lifetime_profile not in LIFETIME_PROFILES:
            raise ValueError("lifetime_profile must be legacy or 2026")
        if self.pkce not in ("off", "optional", "required"):
            raise ValueError("pkce must be off, optional or required")
        if self.mb_unit not in ("decimal", "binary"):
            raise ValueError("mb_unit must be decimal or binary")
        if self.content_range_style not in ("inclusive", "count"):
            raise ValueError("content_range_style must be inclusive or count")
        if self.post_id_format not in ("list", "scalar"):
            raise ValueError("post_id_format must be list or scalar")
        if self.client_type not in ("web", "desktop"):
            raise ValueError("client_type must be web or desktop")
        if not 100 <= int(self.oauth_error_status) <= 599:
            raise ValueError("oauth_error_status must be an HTTP status")
        if not isinstance(self.redirect_uris, list) or not isinstance(self.rate_limits, dict):
            raise ValueError("redirect_uris must be a list and rate_limits an object")

    @property
    def pkce_required(self) -> bool:
        return self.client_type == "desktop" or self.pkce == "required"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""Restriction of processing and objection (GDPR Art. 18 and 21, policy §7.5-§7.6, promise P25).

While a user restricts processing, their data is kept as it is, nothing is published for them (the
upload function checks the flag right after claiming a post and holds it: back to `pending`, stage
`held`; lifting the restriction makes held posts due again and starts the sweep that publishes them,
within the video retention window), and no e-mail is sent to them beyond what the law or their own request
requires. Every sender of an optional e-mail (a notice nobody asked for at that moment, such as a
failed-post or reconnect reminder) asks `optional_mail_allowed` first. Mandatory mail stays: security
alerts (password or e-mail changed, new sign-in method), links the user asked for (verification,
password reset) and the erasure confirmation.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flowctory.clock import parse_instant


class RestrictionStore(Protocol):
    def set_restriction(self, user_id: str, *, restricted: bool, now: datetime) -> Mapping[str, Any]:
        """Set or lift the flag on the profile; the profile item as it is now.

        Raises:
            Conflict: the user is gone.
        """
        ...


class HeldPosts(Protocol):
    def release_held(self, user_id: str, *, now: datetime) -> list[str]:
        """Make the user's held posts due again; their ids."""
        ...


class PostSweep(Protocol):
    def resume_posts(self) -> None: ...


class RestrictionReader(Protocol):
    def is_restricted(self, user_id: str) -> bool: ...


@dataclass(frozen=True)
class RestrictionState:
    restricted: bool
    restricted_at: datetime | None


def set_restriction(
    store: RestrictionStore,
    *,
    user_id: str,
    restricted: bool,
    now: datetime,
    held_posts: HeldPosts,
    sweep: PostSweep,
) -> RestrictionState:
    """Restrict (or stop restricting) the processing of the user's data. Idempotent: restricting twice
    keeps the time the restriction began. Lifting it resumes the posts held meanwhile."""
    profile = store.set_restriction(user_id, restricted=restricted, now=now)
    since = profile.get("restricted_at")
    state = RestrictionState(
        restricted=bool(profile.get("restricted")),
        restricted_at=parse_instant(str(since)) if since else None,
    )
    if not state.restricted and held_posts.release_held(user_id, now=now):
        sweep.resume_posts()
    return state


def optional_mail_allowed(restrictions: RestrictionReader, user_id: str) -> bool:
    """Whether an optional e-mail (not a security alert, not something the user just asked for) may go to
    this user: never while they restrict processing."""
    return not restrictions.is_restricted(user_id)

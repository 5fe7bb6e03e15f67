"""The daily warning that a TikTok account needs reconnecting before one of its scheduled posts.

A post can only go out with a usable grant: an account marked `reconnect_required` (revoked,
refresh refused) or whose refresh token ends before the post's time would fail it at publish time,
when it is too late to act. The sweep finds the coming posts through the DueIndex (no Scan), groups
them by account, and mails the owner once per quiet period, whoever else runs the sweep meanwhile.
A user whose processing is restricted gets no such mail: nothing is published for them anyway.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from flowctory.domain import restriction
from flowctory.domain.emails import Mailer, reconnect_needed
from flowctory.models.accounts import UserProfile
from flowctory.models.posts import Post, PostStatus
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount

# The sweep runs daily; looking two days ahead leaves at least a day to reconnect.
HORIZON = timedelta(days=2)
QUIET_PERIOD = timedelta(hours=20)  # under a day, so a daily sweep warns again while still needed


class ComingPosts(Protocol):
    def due_between(self, start: datetime, end: datetime) -> Iterator[tuple[str, str]]: ...

    def get(self, user_id: str, post_id: str) -> Post | None: ...


class Accounts(Protocol):
    def get(self, user_id: str, open_id: str) -> TikTokAccount | None: ...

    def claim_reconnect_warning(self, user_id: str, open_id: str, *, now: datetime, quiet_until: datetime) -> bool: ...


class Profiles(Protocol):
    def get_user(self, user_id: str) -> UserProfile | None: ...


@dataclass(frozen=True)
class ReconnectWarningDeps:
    posts: ComingPosts
    accounts: Accounts
    profiles: Profiles
    restrictions: restriction.RestrictionReader
    mailer: Mailer
    web_origin: str


@dataclass
class ReconnectWarningReport:
    warned: list[tuple[str, str]] = field(default_factory=list)  # (user_id, open_id)
    accounts_checked: int = 0


def needs_reconnect(account: TikTokAccount, before: datetime) -> bool:
    if account.status is not AccountStatus.ACTIVE:
        return True
    return account.refresh_expires_at is not None and account.refresh_expires_at <= before


def warn_reconnect_needed(
    deps: ReconnectWarningDeps, *, now: datetime, horizon: timedelta = HORIZON
) -> ReconnectWarningReport:
    coming: dict[tuple[str, str], list[Post]] = {}
    for user_id, post_id in deps.posts.due_between(now, now + horizon):
        post = deps.posts.get(user_id, post_id)
        if post is not None and post.status is PostStatus.PENDING:
            coming.setdefault((user_id, post.account_open_id), []).append(post)
    report = ReconnectWarningReport(accounts_checked=len(coming))
    for (user_id, open_id), posts in coming.items():
        account = deps.accounts.get(user_id, open_id)
        first = min(posts, key=lambda post: post.scheduled_at)
        # A disconnected account's posts are cancelled with it; nothing to warn about.
        if account is None or not needs_reconnect(account, first.scheduled_at):
            continue
        if not restriction.optional_mail_allowed(deps.restrictions, user_id):
            continue
        profile = deps.profiles.get_user(user_id)
        if profile is None:
            continue
        if not deps.accounts.claim_reconnect_warning(user_id, open_id, now=now, quiet_until=now + QUIET_PERIOD):
            continue
        local = first.scheduled_at.astimezone(ZoneInfo(first.timezone))
        deps.mailer.send(
            reconnect_needed(
                profile.email,
                profile.name,
                account_name=account.display_name,
                first_post_local=local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or first.timezone),
                posts=len(posts),
                web_origin=deps.web_origin,
            )
        )
        report.warned.append((user_id, open_id))
    return report

"""Right of access and portability (GDPR Art. 15 and 20, CCPA right to know; policy §7.1, §7.4, §8.1;
promise P22): one JSON document of everything held about the user.

Every list is read through the repositories page by page (Queries on the user's partition, never a
Scan), so the export costs a few reads per hundred posts. Left out on purpose: the password hash,
TikTok tokens (even sealed), token and state hashes, and video bytes (videos are kept at most 24
hours, only to send them to TikTok).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from flowctory.domain import consents
from flowctory.domain.billing import BillingRecord
from flowctory.errors import NotFound
from flowctory.models.accounts import UserProfile
from flowctory.models.data_rights import (
    ExportDocument,
    ExportIdentity,
    ExportInvoices,
    ExportProfile,
    ExportSubscription,
    ExportTikTokAccount,
)
from flowctory.models.posts import Post
from flowctory.models.scheduling import PostView
from flowctory.models.tiktok_accounts import TikTokAccount

PAGE_SIZE = 100

# CCPA §1798.110 "right to know" (and GDPR Art. 15(1)): the same for every user, so static.
CCPA = {
    "categories_collected": [
        "Identifiers: e-mail address, display name, avatar URL, our user id, sign-in provider ids (Google, "
        "Facebook), TikTok open_id",
        "Account data: timezone, password (stored only as a hash), consents and their dates",
        "Commercial information: subscription plan and status (payment details are held by Stripe)",
        "User content: videos (kept at most 24 hours, only to send them to TikTok) and post metadata",
        "Internet activity: IP address, browser, device, access times and error logs (server logs, 30 days)",
    ],
    "sources": [
        "You (sign-up, profile, the posts you schedule)",
        "Google or Facebook, when you sign in with them (name, e-mail, avatar URL)",
        "TikTok, when you connect an account (open_id, display name, avatar URL, tokens, publishing results)",
        "Stripe, our payment processor (subscription status)",
        "Your browser (technical data in server logs)",
    ],
    "business_purposes": [
        "Provide the service: your account, publishing your videos to TikTok at the time you chose, post history",
        "Process payments and manage your subscription",
        "Service communications and security alerts",
        "Security, fraud and abuse prevention, troubleshooting",
        "Legal obligations",
    ],
    "recipients": [
        "TikTok (your videos and post settings, through its Content Posting API)",
        "Stripe (payments and subscriptions)",
        "Google and Facebook (only when you sign in with them)",
        "Amazon Web Services (hosting, storage, e-mail delivery), as our processor",
    ],
    "sold_or_shared_for_advertising": False,
    "used_for_advertising": False,
}

RETENTION = {
    "account": "until you delete your account",
    "tiktok_accounts": "until you disconnect the TikTok account or delete your Flowctory account",
    "tiktok_tokens": "until revoked, expired, or the TikTok account is disconnected",
    "videos": "deleted after a successful upload to TikTok, and in any case within 24 hours",
    "post_metadata": "90 days after publication (after failure or cancellation for posts that never published)",
    "subscription": "until you delete your account (payment details are kept by Stripe)",
    "server_logs": "30 days",
}


class ProfileReader(Protocol):
    def get_user(self, user_id: str) -> UserProfile | None: ...


class IdentityReader(Protocol):
    def identities(self, user_id: str) -> list[tuple[str, str]]: ...


class TikTokAccountReader(Protocol):
    def list(self, user_id: str) -> list[TikTokAccount]: ...


class PostPager(Protocol):
    def list_page(self, user_id: str, *, cursor: str | None = None, limit: int = 20) -> tuple[list[Post], str | None]:
        """Raises:
        BadRequest: the cursor is not one this user's listing handed out.
        """
        ...


class BillingReader(Protocol):
    def get(self, user_id: str) -> BillingRecord | None: ...


@dataclass
class ExportDeps:
    profiles: ProfileReader
    identities: IdentityReader
    tiktok_accounts: TikTokAccountReader
    posts: PostPager
    billing: BillingReader


def all_posts(posts: PostPager, user_id: str) -> Iterator[Post]:
    """Every live post of the user, newest first, a page at a time."""
    cursor: str | None = None
    while True:
        page, cursor = posts.list_page(user_id, cursor=cursor, limit=PAGE_SIZE)
        yield from page
        if cursor is None:
            return


def _instant(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _subscription(record: BillingRecord | None) -> ExportSubscription | None:
    if record is None or (record.customer_id is None and record.subscription is None):
        return None
    held = record.subscription
    return ExportSubscription(
        stripe_customer_id=record.customer_id,
        subscription_id=held.id if held else None,
        status=held.status if held else None,
        price_id=held.price_id if held else None,
        created=_instant(held.created) if held else None,
        current_period_end=_instant(held.current_period_end) if held else None,
        cancel_at_period_end=bool(held and held.cancel_at_period_end),
        trial_end=_instant(held.trial_end) if held else None,
    )


def _profile(profile: UserProfile) -> ExportProfile:
    return ExportProfile(
        user_id=profile.user_id,
        email=profile.email,
        email_verified=profile.email_verified,
        pending_email=profile.pending_email,
        name=profile.name,
        avatar_url=profile.avatar_url,
        timezone=profile.timezone,
        has_password=profile.password_hash is not None,
        sign_in_providers=list(profile.providers),
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        age_attested_at=profile.age_attested_at,
        terms_accepted_at=profile.terms_accepted_at,
        policy_version=profile.policy_version,
        restricted=bool(profile.restricted),
        restricted_at=profile.restricted_at,
    )


def _account(account: TikTokAccount) -> ExportTikTokAccount:
    return ExportTikTokAccount(
        open_id=account.open_id,
        display_name=account.display_name,
        avatar_url=account.avatar_url,
        scopes=list(account.scopes),
        status=account.status.value,
        connected_at=account.connected_at,
        reconnect_reason=account.reconnect_reason,
    )


def build_export(deps: ExportDeps, *, user_id: str, now: datetime) -> ExportDocument:
    """Everything held about `user_id`, as one document.

    Raises:
        NotFound: the user is gone.
    """
    profile = deps.profiles.get_user(user_id)
    if profile is None:
        raise NotFound("The account is gone.")
    posts = list(all_posts(deps.posts, user_id))
    record = deps.billing.get(user_id)
    pay_url = record.notice.pay_url if record and record.notice else None
    document: dict[str, Any] = {
        "generated_at": now,
        "profile": _profile(profile),
        "identities": [ExportIdentity(provider=p, subject=s) for p, s in deps.identities.identities(user_id)],
        "tiktok_accounts": [_account(account) for account in deps.tiktok_accounts.list(user_id)],
        "posts": [PostView.of(post).model_dump(mode="json") for post in posts],
        "subscription": _subscription(record),
        "invoices": ExportInvoices(references=[pay_url] if pay_url else []),
        "consents": consents.consents_of(profile, posts),
        "security_events": [],
        "ccpa": CCPA,
        "retention": RETENTION,
    }
    return ExportDocument(**document)

"""Right to erasure (GDPR Art. 17, CCPA deletion; policy §7.3, §8.2; promise P24).

`DELETE /me` (`request_erasure`) re-authenticates the user, then in one transaction records an
erasure request, ends every session (the session version moves on), stops all processing (the
restriction flag, which the upload function checks) and frees the e-mail and sign-in identity keys,
so nobody can sign in to the account any more. It then asks the purge function to start at once
(an asynchronous invocation); if that call fails, the purge sweep (every 15 minutes) picks the
request up anyway: the request item is the source of truth.

`erase_user` (the purge function) does the work. Every step can be repeated, so a run that
crashes part-way is simply run again (the request stays until the end, under a lease so two runs
never work on it at once):

1. every connected TikTok account: its grant is revoked at TikTok, then the account item (with its
   sealed tokens) and its open_id pointer are deleted;
2. every post: its schedules (the post's own and any follow-up; a post finished more than two hours
   ago can have none left) are deleted, then its publish pointer and the post item;
3. every video object under `videos/<user_id>/`;
4. Stripe: the customer pointer first (late webhooks then find no user and are ignored), then the
   subscription is cancelled and the customer deleted at Stripe (invoices stay with Stripe as
   financial records, stripe-billing reference §8);
5. the rate-limit counters keyed to the account's address or id;
6. every remaining item of the user's partition (profile, subscription, tokens, identities), read
   again until none is left;
7. a confirmation e-mail to the address captured when the request was made; then the request is
   replaced by a receipt that holds no personal data (request id and times only).
"""

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowctory.adapters.tiktok.errors import TikTokReconnectRequired, TikTokTokenInvalid
from flowctory.clock import parse_instant
from flowctory.domain import ratelimits
from flowctory.domain.emails import Mail, Mailer
from flowctory.domain.passwords import PasswordHasher
from flowctory.domain.ratelimits import RateLimiter
from flowctory.domain.tiktok_tokens import ReconnectRequired, TokenDeps, usable_tokens
from flowctory.errors import Forbidden, NotFound, UndecryptableSecret
from flowctory.models.accounts import UserProfile
from flowctory.observability import logger
from flowctory.ports import MediaStore
from flowctory.sessions import REAUTHENTICATION_WINDOW, InvalidSession, Session

VIDEO_PREFIX = "videos/"
ERASURE_LEASE = timedelta(minutes=6)  # longer than the purge function's timeout (5 minutes)
DELETE_BATCH = 100
MAX_FINAL_PASSES = 3
COUNTER_LOOKBACK = timedelta(hours=1)
SCHEDULE_HORIZON = timedelta(hours=2)
_WINDOWED_COUNTERS = (ratelimits.RESET_REQUEST_PER_ACCOUNT, ratelimits.VERIFY_RESEND_PER_USER)


# --- ports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostRef:
    post_id: str
    publish_id: str | None
    status: str
    finished_at: datetime | None


@dataclass(frozen=True)
class StripeRefs:
    customer_id: str
    subscription_id: str | None
    subscription_status: str | None


class ErasureStore(Protocol):
    """The table side of erasure (the adapter knows the key layout)."""

    def identities(self, user_id: str) -> list[tuple[str, str]]: ...

    def open_erasure(
        self,
        *,
        user_id: str,
        request: Mapping[str, Any],
        expected_session_version: int,
        email: str,
        identities: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """Raises:
        Conflict: an erasure is already requested, or the account changed meanwhile.
        """
        ...

    def pending_erasures(self) -> Iterator[dict[str, Any]]: ...

    def claim_erasure(self, user_id: str, *, now: datetime, until: datetime) -> dict[str, Any] | None: ...

    def record_erasure_step(self, user_id: str, step: str, *, now: datetime) -> None: ...

    def close_erasure(self, user_id: str, *, receipt: Mapping[str, Any]) -> None: ...

    def tiktok_open_ids(self, user_id: str) -> list[str]: ...

    def delete_tiktok_account(self, user_id: str, open_id: str) -> None: ...

    def post_refs(self, user_id: str) -> Iterator[PostRef]:
        """Every post of the user, expired ones included."""
        ...

    def delete_posts(self, user_id: str, refs: Sequence[PostRef]) -> None:
        """Delete the posts and their publish pointers."""
        ...

    def stripe_billing(self, user_id: str) -> StripeRefs | None: ...

    def forget_stripe_customer(self, customer_id: str) -> None: ...

    def delete_counters(self, counters: Sequence[tuple[str, str]]) -> None:
        """Delete the rate-limit counters (kind, key)."""
        ...

    def delete_partition(self, user_id: str) -> int:
        """Delete every item left in the user's partition; how many there were."""
        ...


class ProfileReader(Protocol):
    def get_user(self, user_id: str) -> UserProfile | None: ...


class ErasureStarter(Protocol):
    def start(self, user_id: str) -> None:
        """Ask the purge function to erase `user_id` now (best effort: the sweep does it otherwise)."""
        ...


class GrantRevoker(Protocol):
    def revoke(self, access_token: Any) -> None: ...


class ScheduleCleaner(Protocol):
    def delete_post_schedules(self, post_id: str) -> int:
        """Delete the post's schedule and its follow-ups; how many there were."""
        ...


class StripeEraser(Protocol):
    def cancel_subscription(self, subscription_id: str) -> None: ...

    def delete_customer(self, customer_id: str) -> None: ...


# --- the request (auth function) -----------------------------------------------------------------


@dataclass
class ErasureRequestDeps:
    profiles: ProfileReader
    store: ErasureStore
    hasher: PasswordHasher
    limiter: RateLimiter
    starter: ErasureStarter
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)


def _reauthenticate(
    deps: ErasureRequestDeps, profile: UserProfile, session: Session, password: str | None, now: datetime
) -> None:
    """The same proof PATCH /me asks before an e-mail change.

    Raises:
        TooManyAttempts: the account must wait after failures.
        Forbidden: wrong or missing password (`wrong_password`), or a password-less account whose sign-in
            is older than 10 minutes (`reauthentication_required`).
    """
    if profile.password_hash is None:
        if now - session.auth_time > REAUTHENTICATION_WINDOW:
            raise Forbidden(
                "For your security, sign in again before deleting your account.", code="reauthentication_required"
            )
        return
    deps.limiter.check_login(profile.email, now=now)
    if password is None or not deps.hasher.verify(profile.password_hash, password):
        if password is not None:
            deps.limiter.login_failed(profile.email, now=now)
        raise Forbidden("Your current password is missing or incorrect.", code="wrong_password")


def request_erasure(deps: ErasureRequestDeps, session: Session, *, current_password: str | None, now: datetime) -> str:
    """Schedule the erasure of the signed-in user's account; returns the request id.

    Raises:
        InvalidSession: the user is gone.
        Forbidden, TooManyAttempts: see `_reauthenticate`.
        Conflict: the account changed meanwhile (retry), or its erasure is already under way.
    """
    profile = deps.profiles.get_user(session.user_id)
    if profile is None:
        raise InvalidSession
    _reauthenticate(deps, profile, session, current_password, now)
    request_id = deps.new_id()
    deps.store.open_erasure(
        user_id=profile.user_id,
        request={
            "request_id": request_id,
            "user_id": profile.user_id,
            # Kept only until the end of the erasure: the confirmation goes to the address the user had.
            "email": profile.email,
            "name": profile.name,
            "requested_at": now.isoformat(timespec="seconds"),
        },
        expected_session_version=profile.session_version,
        email=profile.email,
        identities=deps.store.identities(profile.user_id),
        now=now,
    )
    logger.info("account erasure requested", erasure_request_id=request_id)
    deps.starter.start(profile.user_id)
    return request_id


# --- the work (purge function) -------------------------------------------------------------------


@dataclass
class ErasureDeps:
    store: ErasureStore
    tokens: TokenDeps
    tiktok: GrantRevoker
    schedules: ScheduleCleaner
    media: MediaStore
    stripe: Callable[[], StripeEraser | None]
    mailer: Mailer
    clock: Callable[[], datetime]
    lease: timedelta = ERASURE_LEASE


@dataclass
class ErasureCounts:
    tiktok_grants_revoked: int = 0
    tiktok_accounts: int = 0
    posts: int = 0
    schedules: int = 0
    videos: int = 0
    stripe_customers: int = 0
    items: int = 0


@dataclass
class ErasureSweepReport:
    erased: int = 0
    skipped: int = 0  # held by another run
    failed: int = 0
    left_for_next_run: int = 0


def confirmation_mail(to: str, name: str) -> Mail:
    return Mail(
        to=to,
        subject="Your Flowctory account was deleted",
        text=(
            f"Hello {name},\n\nAs you asked, your Flowctory account and everything we held about you are now "
            "deleted: your profile, your connected TikTok accounts (access revoked at TikTok), your posts and "
            "videos, and your subscription (cancelled at Stripe, which keeps the invoices as accounting law "
            "requires). Server logs, which hold no content, disappear within 30 days.\n\n"
            "This is the last e-mail we send to this address.\n\n— Flowctory\n"
        ),
    )


def _revoke_grant(deps: ErasureDeps, user_id: str, open_id: str) -> bool:
    """Revoke the account's grant at TikTok; False when there was nothing left to revoke.

    Raises:
        TikTokError, UpstreamError: TikTok failed (the run fails and the next one tries again).
    """
    try:
        tokens = usable_tokens(deps.tokens, user_id=user_id, open_id=open_id)
    except (ReconnectRequired, NotFound, UndecryptableSecret):
        return False  # the grant is already unusable: TikTok no longer honours it
    try:
        deps.tiktok.revoke(tokens.access_token)
    except (TikTokReconnectRequired, TikTokTokenInvalid):
        return False
    return True


def counters_of(email: str, user_id: str, *, since: datetime, until: datetime) -> list[tuple[str, str]]:
    """Rate-limit counters (kind, key) keyed to this account: failures per address hash, and the windows
    of the per-account limits from `since` to `until` (older windows expired with their TTL)."""
    account = ratelimits.account_key(email)
    found = [(ratelimits.LOGIN_FAILURES, account)]
    for limit in _WINDOWED_COUNTERS:
        subject = user_id if limit is ratelimits.VERIFY_RESEND_PER_USER else account
        seconds = int(limit.window.total_seconds())
        start = int(since.timestamp()) // seconds * seconds
        while start <= until.timestamp():
            found.append((limit.kind, f"{subject}#{start}"))
            start += seconds
    return found


def _erase_tiktok(deps: ErasureDeps, user_id: str, counts: ErasureCounts) -> None:
    for open_id in deps.store.tiktok_open_ids(user_id):
        counts.tiktok_grants_revoked += _revoke_grant(deps, user_id, open_id)
        deps.store.delete_tiktok_account(user_id, open_id)
        counts.tiktok_accounts += 1


def may_have_schedules(post: PostRef, now: datetime) -> bool:
    """A waiting or publishing post has its schedule or follow-ups; a finished one only for a while (a
    follow-up waits at most 15 minutes, and Scheduler retries its delivery for at most an hour)."""
    if post.status in ("pending", "processing") or post.finished_at is None:
        return True
    return now - post.finished_at < SCHEDULE_HORIZON


def _erase_posts(deps: ErasureDeps, user_id: str, counts: ErasureCounts) -> None:
    now = deps.clock()
    batch: list[PostRef] = []
    for post in deps.store.post_refs(user_id):
        if may_have_schedules(post, now):
            counts.schedules += deps.schedules.delete_post_schedules(post.post_id)
        batch.append(post)
        counts.posts += 1
        if len(batch) >= DELETE_BATCH:
            deps.store.delete_posts(user_id, batch)
            batch = []
    deps.store.delete_posts(user_id, batch)


def _erase_stripe(deps: ErasureDeps, user_id: str, counts: ErasureCounts) -> None:
    refs = deps.store.stripe_billing(user_id)
    if refs is None:
        return
    deps.store.forget_stripe_customer(refs.customer_id)  # late webhooks now find no user and are ignored
    stripe = deps.stripe()
    if stripe is None:
        logger.error("billing is off but the user has a Stripe customer: delete it in Stripe's dashboard")
        return
    if refs.subscription_id and refs.subscription_status not in ("canceled", "incomplete_expired"):
        stripe.cancel_subscription(refs.subscription_id)
    stripe.delete_customer(refs.customer_id)
    counts.stripe_customers += 1


def _erase_partition(deps: ErasureDeps, user_id: str, counts: ErasureCounts) -> None:
    """Delete what is left of the user's partition, reading it again until nothing is left (a write that
    raced with the erasure, such as a publish finishing, is caught by the next pass)."""
    for _ in range(MAX_FINAL_PASSES):
        deleted = deps.store.delete_partition(user_id)
        counts.items += deleted
        if deleted == 0:
            return
    raise RuntimeError("the user's partition keeps being written to; the next run will finish the erasure")


def erase_user(deps: ErasureDeps, user_id: str) -> ErasureCounts | None:
    """Carry out (or resume) the erasure requested for `user_id`; None if there is none or another run holds it.

    Raises:
        Exception: a step failed; everything done so far stays done and the next run resumes.
    """
    now = deps.clock()
    request = deps.store.claim_erasure(user_id, now=now, until=now + deps.lease)
    if request is None:
        return None
    request_id = str(request["request_id"])
    logger.append_keys(erasure_request_id=request_id)
    counts = ErasureCounts()
    _erase_tiktok(deps, user_id, counts)
    _erase_posts(deps, user_id, counts)
    videos = [stored.key for stored in deps.media.list_objects(f"{VIDEO_PREFIX}{user_id}/")]
    deps.media.delete_objects(videos)
    counts.videos = len(videos)
    _erase_stripe(deps, user_id, counts)
    requested_at = parse_instant(str(request["requested_at"]))
    deps.store.delete_counters(
        counters_of(str(request["email"]), user_id, since=requested_at - COUNTER_LOOKBACK, until=deps.clock())
    )
    _erase_partition(deps, user_id, counts)
    if "done_mail" not in request:
        deps.mailer.send(confirmation_mail(str(request["email"]), str(request.get("name") or "")))
        deps.store.record_erasure_step(user_id, "mail", now=deps.clock())
    finished = deps.clock()
    deps.store.close_erasure(
        user_id,
        receipt={
            "request_id": request_id,
            "requested_at": request["requested_at"],
            "completed_at": finished.isoformat(timespec="seconds"),
            "attempts": int(request.get("attempts", 1)),
            "systems": ["dynamodb", "s3", "scheduler", "tiktok", "stripe", "ses"],
        },
    )
    logger.info("account erased", **vars(counts))
    logger.remove_keys(["erasure_request_id"])
    return counts


def erase_pending(
    store: ErasureStore,
    deps: Callable[[], ErasureDeps],
    *,
    time_left: Callable[[], float],
    reserve_seconds: float = 15.0,
) -> ErasureSweepReport:
    """Run every open erasure request while time is left; a failure is logged and left for the next run.
    `deps` is built only when there is a request (a sweep without one costs a single Query)."""
    report = ErasureSweepReport()
    pending = list(store.pending_erasures())
    built = deps() if pending else None
    for request in pending:
        if built is None or time_left() < reserve_seconds:
            report.left_for_next_run += 1
            continue
        try:
            done = erase_user(built, str(request["user_id"]))
        except Exception:  # one failing erasure must not stop the others; the next run resumes it
            logger.exception(
                "account erasure failed; the next run resumes it", erasure_request_id=request.get("request_id")
            )
            logger.remove_keys(["erasure_request_id"])
            report.failed += 1
            continue
        if done is None:
            report.skipped += 1
        else:
            report.erased += 1
    return report

"""Connecting TikTok accounts to a signed-in Flowctory user: the OAuth flow, the list, creator info, disconnect.

A TikTok account is connected separately from sign-in and never opens a session (promise P03):
every step needs a signed-in user. The flow (security §8, RFC 9700): the start makes a one-time
`state` (also recorded server-side, so a replayed callback fails even with its cookies) and a PKCE
verifier; the browser carries them for 10 minutes in three HttpOnly cookies (promise P30). The
callback requires the cookies, the same state everywhere (constant-time), the same signed-in user,
and the recorded state, which it consumes. Only then is the code exchanged.

What is kept (promise P04): open_id, display name, avatar URL, the granted scopes and the token
pair sealed with KMS under a context bound to the user and the account (promise P05). A grant
that cannot be used (publishing not allowed, plan limit, TikTok failing half-way) is revoked at
TikTok and nothing is stored. Disconnecting revokes the grant at TikTok, cancels the account's
waiting posts and deletes the item with its tokens (promises P18, P19).
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import SecretStr

from flowctory.adapters.tiktok.errors import TikTokCannotPostNow, TikTokReconnectRequired, TikTokTokenInvalid
from flowctory.clock import Clock
from flowctory.domain import billing, token_vault
from flowctory.domain.tiktok_tokens import AccountStore, ReconnectRequired, TokenDeps, usable_tokens
from flowctory.domain.token_vault import TokenPair
from flowctory.domain.tokens import state_hash
from flowctory.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from flowctory.models.posts import Post, PostFailure
from flowctory.models.tiktok import CreatorInfo, TokenGrant, UserInfo
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from flowctory.observability import logger
from flowctory.plans import PlanCatalog
from flowctory.ports import TokenCipher

FLOW_LIFETIME = timedelta(minutes=10)
STATE_PROVIDER = "tiktok"
# What publishing needs (Direct Post and creator info) and what we ask for (drafts too).
REQUIRED_SCOPES = ("user.info.basic", "video.publish")
REQUESTED_SCOPES = ("user.info.basic", "video.publish", "video.upload")
USER_FIELDS = ("open_id", "avatar_url", "display_name")
DISCONNECTED = PostFailure(
    code="tiktok_disconnected",
    message="Cancelled because its TikTok account was disconnected.",
    retryable=False,
)


class ConnectionStateInvalid(BadRequest):
    code = "tiktok_state_invalid"

    def __init__(self) -> None:
        super().__init__("This TikTok connection attempt has expired or was already used. Please start again.")


class ConnectionNotYours(Forbidden):
    code = "tiktok_connection_not_yours"

    def __init__(self) -> None:
        super().__init__("This TikTok connection was started by another Flowctory account. Please start again.")


class ConnectionFailed(BadRequest):
    """The flow was genuine but did not end in a connected account; `code` says why (shown to the creator)."""

    code = "tiktok_connect_failed"


# --- ports ---------------------------------------------------------------------------------------


class TikTokApi(Protocol):
    def authorize_url(self, *, redirect_uri: str, scopes: tuple[str, ...], state: str, code_verifier: str) -> str: ...

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenGrant: ...

    def refresh(self, refresh_token: str | SecretStr) -> TokenGrant: ...

    def revoke(self, access_token: str | SecretStr) -> None: ...

    def user_info(self, access_token: str | SecretStr, fields: tuple[str, ...]) -> UserInfo: ...

    def creator_info(self, access_token: str | SecretStr) -> CreatorInfo: ...


class ConnectedAccounts(AccountStore, Protocol):
    def save(self, account: TikTokAccount) -> None: ...

    def list(self, user_id: str) -> list[TikTokAccount]: ...

    def delete(self, user_id: str, open_id: str) -> TikTokAccount | None: ...


class StateStore(Protocol):
    def put_oauth_state(self, state_hash: str, provider: str, *, expires_at: datetime) -> None: ...

    def take_oauth_state(self, state_hash: str, provider: str, *, now: datetime) -> bool: ...


class PendingPosts(Protocol):
    def pending_for_account(self, user_id: str, open_id: str) -> list[Post]: ...

    def cancel(self, user_id: str, post_id: str, *, now: datetime, reason: PostFailure | None = None) -> Post: ...


class ScheduleCanceller(Protocol):
    def cancel(self, post_id: str) -> None: ...


@dataclass
class ConnectionDeps:
    accounts: ConnectedAccounts
    cipher: TokenCipher
    tiktok: TikTokApi
    states: StateStore
    posts: PendingPosts
    schedules: ScheduleCanceller
    billing: billing.BillingRepository
    catalog: PlanCatalog
    redirect_uri: str
    web_origin: str

    def tokens(self, clock: Clock) -> TokenDeps:
        return TokenDeps(accounts=self.accounts, cipher=self.cipher, refresher=self.tiktok, clock=clock)


@dataclass(frozen=True)
class PendingConnection:
    """What the browser carries (sealed) between the start and the callback."""

    user_id: str
    state: str
    code_verifier: str
    callback_url: str


@dataclass(frozen=True)
class CreatorStatus:
    open_id: str
    info: CreatorInfo | None
    can_post: bool
    reason: str | None = None


# --- the flow ------------------------------------------------------------------------------------


def _ensure_plan_allows_one_more(deps: ConnectionDeps, user_id: str, *, connected: int, now: datetime) -> None:
    entitlement = billing.load_entitlement(deps.billing, deps.catalog, user_id=user_id, now=now)
    billing.ensure_can_connect_account(entitlement, connected_accounts=connected)


def begin(deps: ConnectionDeps, *, user_id: str, callback_url: str, now: datetime) -> tuple[str, PendingConnection]:
    """TikTok's consent URL to redirect to, and the flow the browser must carry.

    Raises:
        PlanLimitReached: the plan allows no more accounts and none is waiting to be reconnected.
    """
    accounts = deps.accounts.list(user_id)
    if not any(account.status is AccountStatus.RECONNECT_REQUIRED for account in accounts):
        _ensure_plan_allows_one_more(deps, user_id, connected=len(accounts), now=now)
    pending = PendingConnection(
        user_id=user_id,
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),  # 64 characters of [A-Za-z0-9_-] (RFC 7636: 43 to 128)
        callback_url=callback_url,
    )
    deps.states.put_oauth_state(state_hash(pending.state), STATE_PROVIDER, expires_at=now + FLOW_LIFETIME)
    url = deps.tiktok.authorize_url(
        redirect_uri=deps.redirect_uri,
        scopes=REQUESTED_SCOPES,
        state=pending.state,
        code_verifier=pending.code_verifier,
    )
    return url, pending


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def verify_callback(
    deps: ConnectionDeps,
    pending: PendingConnection | None,
    *,
    state_cookie: str | None,
    verifier_state: str | None,
    state: str | None,
    user_id: str | None,
    now: datetime,
) -> PendingConnection:
    """The flow this callback ends, once everything about it checks out (the recorded state is consumed).

    Raises:
        ConnectionStateInvalid: a cookie is missing, expired or tampered with, or the states differ, or
            the state was already used.
        Unauthenticated: nobody is signed in.
        ConnectionNotYours: another signed-in user started this flow.
    """
    if pending is None or not state_cookie or not verifier_state or not state:
        raise ConnectionStateInvalid
    if not (_same(pending.state, state) and _same(state_cookie, state) and _same(verifier_state, state)):
        raise ConnectionStateInvalid
    if user_id is None:
        raise Unauthenticated("Please sign in to Flowctory, then connect your TikTok account.", code="unauthenticated")
    if not _same(pending.user_id, user_id):
        raise ConnectionNotYours
    if not deps.states.take_oauth_state(state_hash(state), STATE_PROVIDER, now=now):
        raise ConnectionStateInvalid
    return pending


def _revoke_quietly(deps: ConnectionDeps, access_token: SecretStr) -> None:
    """Give back a grant we will not keep; if TikTok fails, the grant still lapses on its own."""
    try:
        deps.tiktok.revoke(access_token)
    except AppError as error:
        logger.warning("could not revoke an unused TikTok grant", error_code=error.code)


def complete(
    deps: ConnectionDeps, pending: PendingConnection, *, code: str | None, error: str | None, now: datetime
) -> TikTokAccount:
    """Exchange the code, check the grant, and store (or update) the connected account.

    Raises:
        ConnectionFailed: TikTok answered with an error, refused the code, did not grant publishing, or
            failed half-way; or the plan allows no more accounts. Nothing is stored then.
    """
    if error:
        if error == "access_denied":
            raise ConnectionFailed("You cancelled connecting your TikTok account.", code="tiktok_access_denied")
        raise ConnectionFailed("TikTok could not connect your account. Please try again.", code="tiktok_oauth_error")
    if not code:
        raise ConnectionFailed("TikTok sent no authorization code. Please try again.", code="tiktok_oauth_error")
    try:
        grant = deps.tiktok.exchange_code(
            code=code, redirect_uri=deps.redirect_uri, code_verifier=pending.code_verifier
        )
    except AppError as failure:
        raise ConnectionFailed(failure.message, code=failure.code) from None
    missing = [scope for scope in REQUIRED_SCOPES if scope not in grant.scope]
    if missing:
        _revoke_quietly(deps, grant.access_token)
        raise ConnectionFailed(
            "Flowctory needs permission to publish videos. Reconnect your TikTok account and allow video publishing.",
            code="tiktok_scope_missing",
        )
    try:
        user = deps.tiktok.user_info(grant.access_token, USER_FIELDS)
    except AppError as failure:
        _revoke_quietly(deps, grant.access_token)
        raise ConnectionFailed(failure.message, code=failure.code) from None
    existing = deps.accounts.get(pending.user_id, grant.open_id)
    if existing is None:
        try:
            _ensure_plan_allows_one_more(
                deps, pending.user_id, connected=len(deps.accounts.list(pending.user_id)), now=now
            )
        except billing.PlanLimitReached as refused:
            _revoke_quietly(deps, grant.access_token)
            raise ConnectionFailed(refused.message, code=refused.code) from None
    tokens = TokenPair.from_grant(grant, issued_at=now)
    account = TikTokAccount(
        user_id=pending.user_id,
        open_id=grant.open_id,
        display_name=user.display_name or "",
        avatar_url=user.avatar_url or "",
        scopes=grant.scope,
        status=AccountStatus.ACTIVE,
        connected_at=existing.connected_at if existing else now,
        sealed_tokens=token_vault.seal(deps.cipher, tokens, user_id=pending.user_id, open_id=grant.open_id),
        access_expires_at=tokens.access_expires_at,
        refresh_expires_at=tokens.refresh_expires_at,
        # A refresh of the previous grant still running must not write its pair over this one.
        token_version=existing.token_version + 1 if existing else 0,
    )
    deps.accounts.save(account)
    return account


# --- the connected accounts ----------------------------------------------------------------------


def list_accounts(deps: ConnectionDeps, *, user_id: str) -> list[TikTokAccount]:
    return deps.accounts.list(user_id)


def _account(deps: ConnectionDeps, user_id: str, open_id: str) -> TikTokAccount:
    account = deps.accounts.get(user_id, open_id)
    if account is None:
        raise NotFound("No such TikTok account is connected to your account.", code="tiktok_account_not_found")
    return account


def creator_status(deps: ConnectionDeps, *, user_id: str, open_id: str, now: datetime) -> CreatorStatus:
    """What the creator may post now, fresh from TikTok (tokens refreshed first if near expiry).

    Raises:
        NotFound: no such account for this user.
        ReconnectRequired: the grant is gone; the account is marked.
        UpstreamError: TikTok failed.
    """
    _account(deps, user_id, open_id)
    tokens = usable_tokens(deps.tokens(lambda: now), user_id=user_id, open_id=open_id)
    try:
        info = deps.tiktok.creator_info(tokens.access_token)
    except TikTokCannotPostNow as refused:
        return CreatorStatus(open_id=open_id, info=None, can_post=False, reason=refused.message)
    return CreatorStatus(open_id=open_id, info=info, can_post=True)


def disconnect(deps: ConnectionDeps, *, user_id: str, open_id: str, now: datetime) -> list[str]:
    """Revoke the grant at TikTok, cancel the account's waiting posts, delete the account and its tokens.

    Returns the ids of the cancelled posts. If TikTok cannot be reached, nothing changes (retry later).

    Raises:
        NotFound: no such account for this user.
        UpstreamError: TikTok failed to revoke the grant.
    """
    _account(deps, user_id, open_id)
    try:
        tokens = usable_tokens(deps.tokens(lambda: now), user_id=user_id, open_id=open_id)
    except ReconnectRequired:
        tokens = None  # the grant is already gone: nothing to revoke
    if tokens is not None:
        try:
            deps.tiktok.revoke(tokens.access_token)
        except (TikTokReconnectRequired, TikTokTokenInvalid):
            logger.info("TikTok grant already gone at disconnect")
    cancelled: list[str] = []
    for post in deps.posts.pending_for_account(user_id, open_id):
        deps.schedules.cancel(post.post_id)
        try:
            deps.posts.cancel(user_id, post.post_id, now=now, reason=DISCONNECTED)
        except Conflict:
            continue  # publishing started meanwhile; it will fail on the revoked grant
        cancelled.append(post.post_id)
    deps.accounts.delete(user_id, open_id)
    return cancelled

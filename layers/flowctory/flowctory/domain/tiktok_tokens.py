"""Usable TikTok tokens for an account: unsealed, and refreshed first when they are about to expire.

TikTok may rotate the refresh token on every refresh and then refuses the old one, so a refresh
that persisted the wrong pair, or two refreshes racing, would lose the account. One refresh runs
at a time per account (a lease); the new pair is written only if no one rotated it meanwhile;
a caller that finds the lease taken waits for the winner's pair instead of refreshing again.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import SecretStr

from flowctory.clock import Clock, utcnow
from flowctory.domain import token_vault
from flowctory.domain.token_vault import TokenPair
from flowctory.errors import Conflict, InvalidState, NotFound, UndecryptableSecret, UpstreamError
from flowctory.models.tiktok import TokenGrant
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from flowctory.ports import TokenCipher

REFRESH_MARGIN = timedelta(minutes=10)
REFRESH_LEASE = timedelta(seconds=30)
WAIT_STEP_SECONDS = 0.25


class ReconnectRequired(InvalidState):
    code = "tiktok_reconnect_required"


class TokenRefresher(Protocol):
    def refresh(self, refresh_token: str | SecretStr) -> TokenGrant: ...


class AccountStore(Protocol):
    def get(self, user_id: str, open_id: str) -> TikTokAccount | None: ...

    def acquire_refresh_lease(
        self, user_id: str, open_id: str, *, token_version: int, now: datetime, until: datetime
    ) -> None: ...

    def store_rotated_tokens(
        self,
        user_id: str,
        open_id: str,
        *,
        expected_version: int,
        sealed_tokens: bytes,
        access_expires_at: datetime,
        refresh_expires_at: datetime,
        scopes: tuple[str, ...],
    ) -> TikTokAccount: ...

    def require_reconnect(self, user_id: str, open_id: str, *, reason: str) -> None: ...


@dataclass
class TokenDeps:
    accounts: AccountStore
    cipher: TokenCipher
    refresher: TokenRefresher
    clock: Clock = utcnow
    sleep: Callable[[float], None] = field(default=time.sleep)


RECONNECT_MESSAGE = "TikTok needs you to reconnect this account before we can post to it."


def _unseal(deps: TokenDeps, account: TikTokAccount) -> TokenPair:
    if (
        account.status is not AccountStatus.ACTIVE
        or account.sealed_tokens is None
        or account.access_expires_at is None
        or account.refresh_expires_at is None
    ):
        raise ReconnectRequired(RECONNECT_MESSAGE)
    try:
        return token_vault.unseal(
            deps.cipher,
            account.sealed_tokens,
            user_id=account.user_id,
            open_id=account.open_id,
            access_expires_at=account.access_expires_at,
            refresh_expires_at=account.refresh_expires_at,
            scopes=account.scopes,
        )
    except UndecryptableSecret:
        deps.accounts.require_reconnect(account.user_id, account.open_id, reason="tokens_unreadable")
        raise ReconnectRequired(RECONNECT_MESSAGE) from None


def _account(deps: TokenDeps, user_id: str, open_id: str) -> TikTokAccount:
    account = deps.accounts.get(user_id, open_id)
    if account is None:
        raise NotFound("No such TikTok account is connected.")
    return account


def usable_tokens(deps: TokenDeps, *, user_id: str, open_id: str, wait_seconds: float = 10.0) -> TokenPair:
    """Tokens valid for at least REFRESH_MARGIN, refreshing them (once, whoever asks) if needed.

    Raises:
        NotFound: the account is not connected to this user.
        ReconnectRequired: TikTok no longer honours the grant; the account is marked and its tokens dropped.
        UpstreamError: another refresh did not finish in time (retryable).
    """
    account = _account(deps, user_id, open_id)
    tokens = _unseal(deps, account)
    now = deps.clock()
    if tokens.access_expires_at - now > REFRESH_MARGIN:
        return tokens
    if tokens.refresh_expires_at <= now:
        deps.accounts.require_reconnect(user_id, open_id, reason="refresh_token_expired")
        raise ReconnectRequired(RECONNECT_MESSAGE)
    try:
        deps.accounts.acquire_refresh_lease(
            user_id, open_id, token_version=account.token_version, now=now, until=now + REFRESH_LEASE
        )
    except Conflict:
        return _wait_for_rotation(
            deps, user_id=user_id, open_id=open_id, seen_version=account.token_version, wait_seconds=wait_seconds
        )
    return _rotate(deps, account, tokens)


def _rotate(deps: TokenDeps, account: TikTokAccount, tokens: TokenPair) -> TokenPair:
    try:
        grant = deps.refresher.refresh(tokens.refresh_token)
    except InvalidState as error:
        if getattr(error, "retryable", False):
            raise
        deps.accounts.require_reconnect(account.user_id, account.open_id, reason=error.code)
        raise ReconnectRequired(RECONNECT_MESSAGE) from None
    rotated = TokenPair.from_grant(grant, issued_at=deps.clock(), scopes=tokens.scopes)
    deps.accounts.store_rotated_tokens(
        account.user_id,
        account.open_id,
        expected_version=account.token_version,
        sealed_tokens=token_vault.seal(deps.cipher, rotated, user_id=account.user_id, open_id=account.open_id),
        access_expires_at=rotated.access_expires_at,
        refresh_expires_at=rotated.refresh_expires_at,
        scopes=rotated.scopes,
    )
    return rotated


def _wait_for_rotation(
    deps: TokenDeps, *, user_id: str, open_id: str, seen_version: int, wait_seconds: float
) -> TokenPair:
    waited = 0.0
    while waited < wait_seconds:
        deps.sleep(WAIT_STEP_SECONDS)
        waited += WAIT_STEP_SECONDS
        account = _account(deps, user_id, open_id)
        if account.token_version != seen_version or account.status is not AccountStatus.ACTIVE:
            return _unseal(deps, account)
    raise UpstreamError("TikTok is slow to renew this account's access; please try again in a minute.")

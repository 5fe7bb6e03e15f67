"""Rotation-safe refresh: one refresh per account at a time, the rotated pair persisted, losers re-read."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import tiktok_tokens, token_vault
from flowctory.domain.tiktok_tokens import ReconnectRequired, TokenDeps
from flowctory.errors import Conflict, InvalidState
from flowctory.models.tiktok import TokenGrant
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class StrictlyRotatingTikTok:
    """TikTok's 2026 behaviour: each refresh returns a new refresh token and the old one stops working."""

    def __init__(self, current_refresh: str, *, delay: float = 0.0) -> None:
        self.current_refresh = current_refresh
        self.calls = 0
        self.delay = delay
        self._lock = threading.Lock()

    def refresh(self, refresh_token: str | SecretStr) -> TokenGrant:
        value = refresh_token.get_secret_value() if isinstance(refresh_token, SecretStr) else refresh_token
        threading.Event().wait(self.delay)
        with self._lock:
            self.calls += 1
            if value != self.current_refresh:
                raise InvalidState("refresh token rotated out", code="tiktok_reconnect_required")
            self.current_refresh = f"rft.{self.calls}"
            return TokenGrant(
                access_token=f"act.{self.calls}",
                refresh_token=self.current_refresh,
                open_id="open-1",
                scope="user.info.basic,video.publish",
                expires_in=86_400,
                refresh_expires_in=31_536_000,
            )


class InMemoryAccounts(TikTokAccountRepository):
    """The real repository's conditions, made atomic across threads (moto does not serialise them)."""

    def __init__(self, table: SingleTable) -> None:
        super().__init__(table)
        self._lock = threading.Lock()

    def acquire_refresh_lease(self, *args, **kwargs):
        with self._lock:
            return super().acquire_refresh_lease(*args, **kwargs)

    def store_rotated_tokens(self, *args, **kwargs):
        with self._lock:
            return super().store_rotated_tokens(*args, **kwargs)


@pytest.fixture
def cipher(aws) -> KmsTokenCipher:
    return KmsTokenCipher(aws.ref("AppKey"))


@pytest.fixture
def accounts(aws) -> InMemoryAccounts:
    return InMemoryAccounts(SingleTable(aws.ref("AppTable"), clock=lambda: NOW))


def connect(accounts, cipher, *, access_expires_in: timedelta, refresh_expires_in=timedelta(days=365)) -> None:
    tokens = token_vault.TokenPair(
        access_token="act.0",
        refresh_token="rft.0",
        access_expires_at=NOW + access_expires_in,
        refresh_expires_at=NOW + refresh_expires_in,
        scopes=("user.info.basic", "video.publish"),
    )
    accounts.save(
        TikTokAccount(
            user_id="u1",
            open_id="open-1",
            display_name="Creator",
            avatar_url="https://example.test/a.jpg",
            scopes=tokens.scopes,
            status=AccountStatus.ACTIVE,
            connected_at=NOW,
            sealed_tokens=token_vault.seal(cipher, tokens, user_id="u1", open_id="open-1"),
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
        )
    )


def deps(accounts, cipher, tiktok) -> TokenDeps:
    return TokenDeps(accounts=accounts, cipher=cipher, refresher=tiktok, clock=lambda: NOW, sleep=lambda _: None)


def test_tokens_far_from_expiry_are_used_as_they_are(accounts, cipher):
    connect(accounts, cipher, access_expires_in=timedelta(hours=5))
    tiktok = StrictlyRotatingTikTok("rft.0")
    tokens = tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")
    assert tokens.access_token.get_secret_value() == "act.0"
    assert tiktok.calls == 0


def test_tokens_near_expiry_are_refreshed_and_the_rotated_pair_persisted(accounts, cipher):
    connect(accounts, cipher, access_expires_in=timedelta(minutes=5))
    tiktok = StrictlyRotatingTikTok("rft.0")

    tokens = tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")

    assert tokens.access_token.get_secret_value() == "act.1"
    assert tokens.access_expires_at == NOW + timedelta(seconds=86_400)
    stored = accounts.get("u1", "open-1")
    assert stored.token_version == 1
    assert stored.refresh_lease_until is None
    # The next call uses the stored pair, whose refresh token is the one TikTok now honours
    again = tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")
    assert again.refresh_token.get_secret_value() == tiktok.current_refresh


def test_two_concurrent_refreshes_call_tiktok_once_and_both_get_a_working_token(accounts, cipher):
    # Given tokens about to expire and two publishes needing them at the same moment
    connect(accounts, cipher, access_expires_in=timedelta(minutes=1))
    tiktok = StrictlyRotatingTikTok("rft.0", delay=0.3)
    results: list[str] = []
    waiting_deps = TokenDeps(accounts=accounts, cipher=cipher, refresher=tiktok, clock=lambda: NOW)

    def publish() -> None:
        tokens = tiktok_tokens.usable_tokens(waiting_deps, user_id="u1", open_id="open-1")
        results.append(tokens.access_token.get_secret_value())

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then TikTok was asked once, both got the new token, and the stored refresh token still works
    assert tiktok.calls == 1
    assert results == ["act.1", "act.1"]
    stored = tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")
    assert stored.refresh_token.get_secret_value() == tiktok.current_refresh


def test_p19_a_refused_refresh_drops_the_tokens_and_asks_to_reconnect(accounts, cipher):
    connect(accounts, cipher, access_expires_in=timedelta(minutes=1))
    tiktok = StrictlyRotatingTikTok("rft.someone-else-rotated-it")

    with pytest.raises(ReconnectRequired):
        tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")

    stored = accounts.get("u1", "open-1")
    assert stored.status is AccountStatus.RECONNECT_REQUIRED
    assert stored.sealed_tokens is None
    assert stored.reconnect_reason == "tiktok_reconnect_required"


def test_p19_an_expired_refresh_token_is_dropped_without_calling_tiktok(accounts, cipher):
    connect(accounts, cipher, access_expires_in=timedelta(minutes=-5), refresh_expires_in=timedelta(seconds=-1))
    tiktok = StrictlyRotatingTikTok("rft.0")
    with pytest.raises(ReconnectRequired):
        tiktok_tokens.usable_tokens(deps(accounts, cipher, tiktok), user_id="u1", open_id="open-1")
    assert tiktok.calls == 0
    assert accounts.get("u1", "open-1").sealed_tokens is None


def test_rotated_tokens_are_not_written_over_a_newer_rotation(accounts, cipher):
    connect(accounts, cipher, access_expires_in=timedelta(minutes=1))
    accounts.acquire_refresh_lease("u1", "open-1", token_version=0, now=NOW, until=NOW + timedelta(seconds=30))
    with pytest.raises(Conflict):
        accounts.acquire_refresh_lease("u1", "open-1", token_version=0, now=NOW, until=NOW + timedelta(seconds=30))
    accounts.store_rotated_tokens(
        "u1",
        "open-1",
        expected_version=0,
        sealed_tokens=b"new",
        access_expires_at=NOW,
        refresh_expires_at=NOW,
        scopes=(),
    )
    with pytest.raises(Conflict):
        accounts.store_rotated_tokens(
            "u1",
            "open-1",
            expected_version=0,
            sealed_tokens=b"stale",
            access_expires_at=NOW,
            refresh_expires_at=NOW,
            scopes=(),
        )
    assert accounts.get("u1", "open-1").sealed_tokens == b"new"

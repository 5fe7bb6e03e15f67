"""Builds each function's adapters from its settings, once per container (lazily, never at import)."""

from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.s3 import S3MediaStore
from flowctory.clock import utcnow
from flowctory.settings import CommonSettings, MediaSettings, load_settings

if TYPE_CHECKING:
    from flowctory.adapters.accounts import DynamoAccountStore
    from flowctory.adapters.secrets import CachedSecrets
    from flowctory.adapters.tiktok.client import TikTokClient
    from flowctory.domain.accounts import AccountDeps
    from flowctory.domain.oauth_login import IdentityProvider
    from flowctory.domain.tiktok_connection import ConnectionDeps
    from flowctory.sessions import SessionService


@lru_cache
def table() -> SingleTable:
    return SingleTable(load_settings(CommonSettings).TABLE_NAME)


@lru_cache
def media_store() -> S3MediaStore:
    return S3MediaStore(load_settings(MediaSettings).MEDIA_BUCKET)


def video_retention() -> timedelta:
    return timedelta(hours=load_settings(MediaSettings).VIDEO_RETENTION_HOURS)


# --- accounts and sessions (imports kept inside: only the HTTP functions pay for them) ---


@lru_cache
def secrets() -> "CachedSecrets":
    from flowctory.adapters.secrets import CachedSecrets

    return CachedSecrets()


@lru_cache
def sessions() -> "SessionService":
    """Session verification for any function whose settings have SESSION_SECRET_ARN. Tests may set `.clock`."""
    from flowctory.sessions import KeyRing, SessionService
    from flowctory.settings import SessionSettings

    settings = load_settings(SessionSettings)
    return SessionService(
        keys=lambda: KeyRing.from_strings(secrets().current_and_previous(settings.SESSION_SECRET_ARN)),
        store=account_store(),
        clock=utcnow,
        secure_cookies=not settings.is_local,
        allowed_origins=frozenset({settings.WEB_ORIGIN.rstrip("/")}),
    )


@lru_cache
def account_store() -> "DynamoAccountStore":
    from flowctory.adapters.accounts import DynamoAccountStore

    # Reads drop expired items by the sessions' clock, so a test that freezes it sees one "now".
    return DynamoAccountStore(SingleTable(load_settings(CommonSettings).TABLE_NAME, clock=lambda: sessions().clock()))


@lru_cache
def accounts() -> "AccountDeps":
    from flowctory.adapters.accounts import DynamoCounterStore
    from flowctory.adapters.mail import SesMailer
    from flowctory.domain.accounts import AccountDeps
    from flowctory.domain.passwords import Argon2Hasher
    from flowctory.domain.ratelimits import RateLimiter
    from flowctory.settings import AuthSettings

    settings = load_settings(AuthSettings)
    counters = DynamoCounterStore(SingleTable(settings.TABLE_NAME, clock=lambda: sessions().clock()))
    return AccountDeps(
        store=account_store(),
        hasher=Argon2Hasher(),
        mailer=SesMailer(settings.MAIL_FROM),
        limiter=RateLimiter(counters),
        web_origin=settings.WEB_ORIGIN.rstrip("/"),
        policy_version=settings.POLICY_VERSION,
    )


@lru_cache
def identity_providers() -> "dict[str, IdentityProvider]":
    """The sign-in providers this deployment has a client id for."""
    from flowctory.adapters.identity import FacebookProvider, GoogleProvider
    from flowctory.settings import AuthSettings

    settings = load_settings(AuthSettings)
    providers: dict[str, IdentityProvider] = {}
    if settings.GOOGLE_CLIENT_ID:
        providers["google"] = GoogleProvider(
            client_id=settings.GOOGLE_CLIENT_ID,
            client_secret=lambda: secrets().get(settings.GOOGLE_SECRET_ARN) or "",
            discovery_url=settings.GOOGLE_DISCOVERY_URL,
        )
    if settings.FACEBOOK_APP_ID:
        providers["facebook"] = FacebookProvider(
            client_id=settings.FACEBOOK_APP_ID,
            client_secret=lambda: secrets().get(settings.FACEBOOK_SECRET_ARN) or "",
            authorize_url=settings.FACEBOOK_AUTHORIZE_URL,
            graph_url=settings.FACEBOOK_GRAPH_URL,
        )
    return providers


# --- TikTok connections (the tiktok_oauth function) ---


@lru_cache
def tiktok_client() -> "TikTokClient":
    """The TikTok app's client; the secret is read from TIKTOK_SECRET_ARN (cached, like the client)."""
    from flowctory.adapters.tiktok.client import TikTokClient
    from flowctory.settings import TikTokSettings

    settings = load_settings(TikTokSettings)
    return TikTokClient.from_settings(settings, secrets().get(settings.TIKTOK_SECRET_ARN) or "")


@lru_cache
def tiktok_connections() -> "ConnectionDeps":
    from flowctory import billing_wiring
    from flowctory.adapters.kms import KmsTokenCipher
    from flowctory.adapters.post_repository import PostRepository
    from flowctory.adapters.scheduler import PostScheduler
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
    from flowctory.domain.tiktok_connection import ConnectionDeps
    from flowctory.settings import TikTokOAuthSettings

    settings = load_settings(TikTokOAuthSettings)
    clocked = SingleTable(settings.TABLE_NAME, clock=lambda: sessions().clock())
    return ConnectionDeps(
        accounts=TikTokAccountRepository(clocked),
        cipher=KmsTokenCipher(settings.KMS_KEY_ID),
        tiktok=tiktok_client(),
        states=account_store(),
        posts=PostRepository(clocked),
        # Disconnecting only deletes schedules, which needs the group alone.
        schedules=PostScheduler(group=settings.SCHEDULE_GROUP, target_arn="", role_arn="", dead_letter_arn=""),
        billing=billing_wiring.entitlements(),
        catalog=billing_wiring.catalog(),
        redirect_uri=settings.WEB_ORIGIN.rstrip("/") + "/tiktok/callback",
        web_origin=settings.WEB_ORIGIN.rstrip("/"),
    )


def reset() -> None:
    """Forget cached adapters and settings (tests and the sandbox, after changing the environment)."""
    for cache in (secrets, sessions, account_store, accounts, identity_providers, tiktok_connections):
        cache.cache_clear()
    if tiktok_client.cache_info().currsize:
        tiktok_client().close()
    tiktok_client.cache_clear()
    table.cache_clear()
    media_store.cache_clear()
    load_settings.cache_clear()

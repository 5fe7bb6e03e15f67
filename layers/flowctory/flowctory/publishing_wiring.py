"""Adapters of the publishing path (upload, webhooks and the purge sweeper), built once per container.

Any function with TikTok, scheduler and KMS settings can use these; each factory reads only the
settings it needs. Tests replace `clock`, `retry_policy` and `publish_policy` to run fast.
"""

from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from flowctory import wiring
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.scheduler import PostScheduler
from flowctory.clock import utcnow
from flowctory.models.base import Model
from flowctory.settings import CommonSettings, SchedulerSettings, TikTokSettings, load_settings

if TYPE_CHECKING:
    from flowctory.adapters.tiktok.client import RetryPolicy, TikTokClient
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
    from flowctory.domain.publishing import PublishDeps, PublishPolicy
    from flowctory.domain.reconnect_warnings import ReconnectWarningDeps
    from flowctory.domain.tiktok_webhooks import TikTokWebhookDeps


class KeySettings(Model):
    """The KMS key sealing TikTok tokens (a refresh re-seals them)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    KMS_KEY_ID: str = Field(min_length=1)


def clock() -> datetime:
    return utcnow()


def retry_policy() -> "RetryPolicy":
    from flowctory.adapters.tiktok.client import RetryPolicy

    return RetryPolicy()


def publish_policy() -> "PublishPolicy":
    from flowctory.domain.publishing import PublishPolicy

    return PublishPolicy()


def posts() -> PostRepository:
    return PostRepository(wiring.table())


def tiktok_accounts() -> "TikTokAccountRepository":
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository

    return TikTokAccountRepository(wiring.table())


def tiktok_client_secret() -> str:
    return wiring.secrets().get(load_settings(TikTokSettings).TIKTOK_SECRET_ARN) or ""


@lru_cache
def tiktok_client() -> "TikTokClient":
    from flowctory.adapters.tiktok.client import TikTokClient

    return TikTokClient.from_settings(load_settings(TikTokSettings), tiktok_client_secret(), retry=retry_policy())


def post_scheduler() -> PostScheduler:
    settings = load_settings(SchedulerSettings)
    return PostScheduler(
        group=settings.SCHEDULE_GROUP,
        target_arn=settings.UPLOAD_FUNCTION_ARN,
        role_arn=settings.SCHEDULER_ROLE_ARN,
        dead_letter_arn=settings.DEAD_LETTER_QUEUE_ARN,
    )


def publisher() -> "PublishDeps":
    """Everything publish_post needs (cheap: the adapters inside are cached)."""
    from flowctory.adapters.kms import KmsTokenCipher
    from flowctory.adapters.restrictions import ProcessingRestrictions
    from flowctory.domain.publishing import PublishDeps
    from flowctory.domain.tiktok_tokens import TokenDeps

    load_settings(CommonSettings)  # fail early, naming what is missing
    return PublishDeps(
        posts=posts(),
        accounts=tiktok_accounts(),
        tokens=TokenDeps(
            accounts=tiktok_accounts(),
            cipher=KmsTokenCipher(load_settings(KeySettings).KMS_KEY_ID),
            refresher=tiktok_client(),
            clock=lambda: clock(),
        ),
        tiktok=tiktok_client(),
        media=wiring.media_store(),
        scheduler=post_scheduler(),
        restrictions=ProcessingRestrictions(wiring.table()),
        clock=lambda: clock(),
        policy=publish_policy(),
    )


def tiktok_webhooks() -> "TikTokWebhookDeps":
    from flowctory.adapters.webhook_ledger import DynamoWebhookLedger
    from flowctory.domain.tiktok_webhooks import TikTokWebhookDeps

    return TikTokWebhookDeps(
        client_key=load_settings(TikTokSettings).TIKTOK_CLIENT_KEY,
        client_secret=tiktok_client_secret,
        # TikTok retries for 72 hours: remember an event a little longer than that.
        ledger=DynamoWebhookLedger(wiring.table(), retention=timedelta(days=4), lease=timedelta(minutes=1)),
        posts=posts(),
        accounts=tiktok_accounts(),
        media=wiring.media_store(),
    )


class MailSettings(Model):
    """Where service mail comes from (the purge function's notices)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    MAIL_FROM: str = Field(min_length=3)


def reconnect_warnings() -> "ReconnectWarningDeps":
    from flowctory.adapters.accounts import DynamoAccountStore
    from flowctory.adapters.mail import SesMailer
    from flowctory.adapters.restrictions import ProcessingRestrictions
    from flowctory.domain.reconnect_warnings import ReconnectWarningDeps

    return ReconnectWarningDeps(
        posts=posts(),
        accounts=tiktok_accounts(),
        profiles=DynamoAccountStore(wiring.table()),
        restrictions=ProcessingRestrictions(wiring.table()),
        mailer=SesMailer(load_settings(MailSettings).MAIL_FROM),
        web_origin=load_settings(CommonSettings).WEB_ORIGIN.rstrip("/"),
    )


def reset() -> None:
    tiktok_client.cache_clear()

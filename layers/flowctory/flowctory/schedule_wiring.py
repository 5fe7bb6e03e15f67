"""Builds the schedule function's dependencies from its settings, lazily (never at import).

Nothing here is cached but the TikTok client (keyed by its settings), so tests and the sandbox
that change the environment and call `wiring.reset()` get adapters for the new environment.
"""

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from flowctory import wiring
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.scheduler import PostScheduler
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain.scheduling import SchedulingDeps
from flowctory.models.tiktok import CreatorInfo, PublishStatus
from flowctory.settings import ScheduleSettings, load_settings

if TYPE_CHECKING:
    from pydantic import SecretStr

    from flowctory.adapters.tiktok.client import TikTokClient


@lru_cache(maxsize=4)
def _tiktok_client(client_key: str, client_secret: str, api_base_url: str, auth_base_url: str) -> "TikTokClient":
    from flowctory.adapters.tiktok.client import TikTokClient

    return TikTokClient(
        client_key=client_key, client_secret=client_secret, api_base_url=api_base_url, auth_base_url=auth_base_url
    )


def tiktok_client() -> "TikTokClient":
    settings = load_settings(ScheduleSettings)
    secret = wiring.secrets().get(settings.TIKTOK_SECRET_ARN) or ""
    return _tiktok_client(
        settings.TIKTOK_CLIENT_KEY, secret, settings.TIKTOK_API_BASE_URL, settings.TIKTOK_AUTH_BASE_URL
    )


def _access_token(user_id: str, open_id: str) -> "SecretStr":
    from flowctory.domain.tiktok_tokens import TokenDeps, usable_tokens

    settings = load_settings(ScheduleSettings)
    deps = TokenDeps(
        accounts=TikTokAccountRepository(wiring.table()),
        cipher=KmsTokenCipher(settings.KMS_KEY_ID),
        refresher=tiktok_client(),
    )
    return usable_tokens(deps, user_id=user_id, open_id=open_id).access_token


def creator_info(user_id: str, open_id: str) -> CreatorInfo:
    """Fresh creator_info for a compose (audit rule 1a), with the account's tokens refreshed first if needed."""
    return tiktok_client().creator_info(_access_token(user_id, open_id))


def publish_status(user_id: str, open_id: str, publish_id: str) -> PublishStatus:
    """Where TikTok is with an earlier publish of a post (asked before a retry may start a new one)."""
    return tiktok_client().fetch_status(_access_token(user_id, open_id), publish_id)


class BillingPlanGate:
    """The plan limits (issue 8's billing domain) as the scheduling domain asks for them."""

    def check_can_schedule(self, user_id: str, *, scheduled_at: datetime, now: datetime) -> None:
        from flowctory import billing_wiring
        from flowctory.domain import billing

        billing.check_can_schedule_post(
            billing_wiring.entitlements(),
            billing_wiring.usage(),
            billing_wiring.catalog(),
            user_id=user_id,
            scheduled_at=scheduled_at,
            now=now,
        )

    def check_can_retry(self, user_id: str, *, retries_used: int, now: datetime) -> None:
        from flowctory import billing_wiring
        from flowctory.domain import billing

        entitlement = billing.load_entitlement(
            billing_wiring.entitlements(), billing_wiring.catalog(), user_id=user_id, now=now
        )
        billing.ensure_can_retry_post(entitlement, retries_used=retries_used)


def scheduling() -> SchedulingDeps:
    settings = load_settings(ScheduleSettings)
    return SchedulingDeps(
        posts=PostRepository(wiring.table()),
        media=wiring.media_store(),
        schedules=PostScheduler(
            group=settings.SCHEDULE_GROUP,
            target_arn=settings.UPLOAD_FUNCTION_ARN,
            role_arn=settings.SCHEDULER_ROLE_ARN,
            dead_letter_arn=settings.DEAD_LETTER_QUEUE_ARN,
        ),
        accounts=TikTokAccountRepository(wiring.table()),
        creator_info=creator_info,
        publish_status=publish_status,
        plan=BillingPlanGate(),
        retention=wiring.video_retention(),
    )

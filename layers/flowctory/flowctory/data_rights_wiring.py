"""Builds the data-rights dependencies (export, restriction, consents, erasure, metadata sweep), lazily.

The auth function serves the routes (its reads go through a table on the sessions' clock, so a test
that freezes it sees one "now"); the purge function does erasures and the metadata sweep.
"""

from functools import lru_cache
from typing import TYPE_CHECKING

from flowctory import wiring
from flowctory.settings import CommonSettings, load_settings

if TYPE_CHECKING:
    from flowctory.adapters.data_rights import DynamoDataRightsStore, PurgeInvoker
    from flowctory.adapters.dynamodb import SingleTable
    from flowctory.adapters.post_repository import PostRepository
    from flowctory.adapters.restrictions import ProcessingRestrictions
    from flowctory.domain.erasure import ErasureDeps, ErasureRequestDeps
    from flowctory.domain.export import ExportDeps


def _clocked_table() -> "SingleTable":
    from flowctory.adapters.dynamodb import SingleTable

    return SingleTable(load_settings(CommonSettings).TABLE_NAME, clock=lambda: wiring.sessions().clock())


@lru_cache
def store() -> "DynamoDataRightsStore":
    """For the auth function's routes."""
    from flowctory.adapters.data_rights import DynamoDataRightsStore

    return DynamoDataRightsStore(_clocked_table())


def posts() -> "PostRepository":
    from flowctory.adapters.post_repository import PostRepository

    return PostRepository(_clocked_table())


def restrictions() -> "ProcessingRestrictions":
    from flowctory.adapters.restrictions import ProcessingRestrictions

    return ProcessingRestrictions(wiring.table())


def export() -> "ExportDeps":
    from flowctory.adapters.billing_store import DynamoBillingRepository
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
    from flowctory.domain.export import ExportDeps

    table = _clocked_table()
    return ExportDeps(
        profiles=wiring.account_store(),
        identities=store(),
        tiktok_accounts=TikTokAccountRepository(table),
        posts=posts(),
        billing=DynamoBillingRepository(table),
    )


def purge_invoker() -> "PurgeInvoker":
    from flowctory.adapters.data_rights import PurgeInvoker
    from flowctory.settings import AuthSettings

    return PurgeInvoker(load_settings(AuthSettings).PURGE_FUNCTION_ARN)


def erasure_request() -> "ErasureRequestDeps":
    from flowctory.domain.erasure import ErasureRequestDeps

    accounts = wiring.accounts()
    return ErasureRequestDeps(
        profiles=wiring.account_store(),
        store=store(),
        hasher=accounts.hasher,
        limiter=accounts.limiter,
        starter=purge_invoker(),
    )


# --- the purge function ---


def expiring_items() -> "DynamoDataRightsStore":
    from flowctory.adapters.data_rights import DynamoDataRightsStore

    return DynamoDataRightsStore(wiring.table())


def erasure() -> "ErasureDeps":
    from flowctory import billing_wiring, publishing_wiring
    from flowctory.adapters.data_rights import DynamoDataRightsStore, PostScheduleCleaner
    from flowctory.adapters.kms import KmsTokenCipher
    from flowctory.adapters.mail import SesMailer
    from flowctory.domain.erasure import ErasureDeps
    from flowctory.domain.tiktok_tokens import TokenDeps
    from flowctory.settings import PurgeSettings

    settings = load_settings(PurgeSettings)
    client = publishing_wiring.tiktok_client()
    return ErasureDeps(
        store=DynamoDataRightsStore(wiring.table()),
        tokens=TokenDeps(
            accounts=publishing_wiring.tiktok_accounts(),
            cipher=KmsTokenCipher(settings.KMS_KEY_ID),
            refresher=client,
            clock=lambda: publishing_wiring.clock(),
        ),
        tiktok=client,
        schedules=PostScheduleCleaner(settings.SCHEDULE_GROUP),
        media=wiring.media_store(),
        stripe=billing_wiring.stripe,
        mailer=SesMailer(settings.MAIL_FROM),
        clock=lambda: publishing_wiring.clock(),
    )


def reset() -> None:
    store.cache_clear()

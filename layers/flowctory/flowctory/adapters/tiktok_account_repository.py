"""Connected TikTok accounts in the single table, with the token rotation guarded by conditional writes.

`token_version` counts rotations: the new token pair is stored only if the version is still the
one the refresher read and it holds the refresh lease, so two refreshes can never both persist,
and the refresh token that TikTok rotated out is never written back over the new one.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import SingleTable
from flowctory.errors import Conflict
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def account_to_item(account: TikTokAccount) -> dict[str, Any]:
    item = account.model_dump(mode="python", exclude_none=True)
    for name, value in list(item.items()):
        if isinstance(value, datetime):
            item[name] = _instant(value)
        elif isinstance(value, tuple):
            item[name] = list(value)
    item["status"] = account.status.value
    return {**item, **keys.tiktok_account_key(account.user_id, account.open_id)}


def item_to_account(item: Mapping[str, Any]) -> TikTokAccount:
    fields = {name: value for name, value in item.items() if name in TikTokAccount.model_fields}
    if "sealed_tokens" in fields:
        fields["sealed_tokens"] = bytes(fields["sealed_tokens"])  # boto3 Binary
    return TikTokAccount.model_validate(fields)


class TikTokAccountRepository:
    def __init__(self, table: SingleTable) -> None:
        self._table = table

    def save(self, account: TikTokAccount) -> None:
        """Store a (re)connected account, replacing what an earlier connection left."""
        self._table.put(account_to_item(account))
        self._table.put({**keys.tiktok_owner_key(account.open_id, account.user_id), "user_id": account.user_id})

    def owners(self, open_id: str) -> list[str]:
        """The users who connected this TikTok account (TikTok's webhooks name only the open_id)."""
        return [str(item["user_id"]) for item in self._table.query_all(keys.tiktok_owner_pk(open_id))]

    def get(self, user_id: str, open_id: str) -> TikTokAccount | None:
        item = self._table.get(keys.tiktok_account_key(user_id, open_id), consistent=True)
        return item_to_account(item) if item else None

    def list(self, user_id: str) -> list[TikTokAccount]:
        return [item_to_account(item) for item in self._table.query_all(keys.user_pk(user_id), sk_prefix="TIKTOK#")]

    def delete(self, user_id: str, open_id: str) -> TikTokAccount | None:
        old = self._table.delete(keys.tiktok_account_key(user_id, open_id))
        return item_to_account(old) if old else None

    def acquire_refresh_lease(
        self, user_id: str, open_id: str, *, token_version: int, now: datetime, until: datetime
    ) -> None:
        """Become the one refresher of this account's tokens until `until`.

        Raises:
            Conflict: someone else holds the lease, or the tokens were rotated since they were read.
        """
        free = Attr("refresh_lease_until").not_exists() | Attr("refresh_lease_until").lt(_instant(now))
        self._table.update(
            keys.tiktok_account_key(user_id, open_id),
            set_values={"refresh_lease_until": _instant(until)},
            condition=Attr("token_version").eq(token_version) & Attr("status").eq(AccountStatus.ACTIVE.value) & free,
            conflict_message="These tokens are being refreshed already.",
        )

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
    ) -> TikTokAccount:
        """Persist the new pair atomically, bumping the version and releasing the lease.

        Raises:
            Conflict: the version moved (someone else rotated them): the caller must re-read.
        """
        item = self._table.update(
            keys.tiktok_account_key(user_id, open_id),
            set_values={
                "sealed_tokens": sealed_tokens,
                "access_expires_at": _instant(access_expires_at),
                "refresh_expires_at": _instant(refresh_expires_at),
                "scopes": list(scopes),
                "token_version": expected_version + 1,
            },
            remove=["refresh_lease_until"],
            condition=Attr("token_version").eq(expected_version),
            conflict_message="The tokens were rotated meanwhile.",
        )
        return item_to_account(item)

    def claim_reconnect_warning(self, user_id: str, open_id: str, *, now: datetime, quiet_until: datetime) -> bool:
        """True once per quiet period: whoever records the warning first sends it (sweeps may overlap)."""
        try:
            self._table.update(
                keys.tiktok_account_key(user_id, open_id),
                set_values={"reconnect_warned_until": _instant(quiet_until)},
                condition=Attr("pk").exists()
                & (Attr("reconnect_warned_until").not_exists() | Attr("reconnect_warned_until").lte(_instant(now))),
                conflict_message="Warned already.",
            )
        except Conflict:
            return False
        return True

    def require_reconnect(self, user_id: str, open_id: str, *, reason: str) -> None:
        """Drop the tokens (promise P19) and ask the creator to reconnect this account."""
        self._table.update(
            keys.tiktok_account_key(user_id, open_id),
            set_values={"status": AccountStatus.RECONNECT_REQUIRED.value, "reconnect_reason": reason},
            add={"token_version": 1},
            remove=["sealed_tokens", "access_expires_at", "refresh_expires_at", "refresh_lease_until"],
            condition=Attr("pk").exists(),
            conflict_message="This TikTok account is not connected.",
        )

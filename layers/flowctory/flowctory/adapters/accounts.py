"""Accounts, sessions and rate counters in the single table (key layout in adapters/keys.py).

The profile and its e-mail key (and, for a social sign-up, its identity key) are written in one
transaction, so an address can never belong to two accounts. Tokens, ended sessions, OAuth flows
and counters carry `expires_at` for DynamoDB's TTL, and every read here ignores expired ones.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import Item, SingleTable, TransactDelete, TransactPut
from flowctory.domain.accounts import EmailTaken, TokenRecord
from flowctory.domain.ratelimits import Failures
from flowctory.errors import Conflict
from flowctory.models.accounts import UserProfile
from flowctory.sessions import SessionUser

_NEW = "attribute_not_exists(pk)"
_EXISTING = "attribute_exists(pk)"


def _key(key: keys.Key) -> dict[str, Any]:
    return {"pk": key["pk"], "sk": key["sk"]}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


def profile_item(profile: UserProfile) -> Item:
    fields = {name: _stored(value) for name, value in profile.model_dump().items() if value is not None}
    return {**keys.profile_key(profile.user_id), **fields}


def _user_identity_item(user_id: str, provider: str, subject: str) -> Item:
    """The user's copy of an identity link: export and erasure find it with a Query of the user's partition."""
    return {**keys.user_identity_key(user_id, provider, subject), "provider": provider, "subject": subject}


def profile_of(item: Item) -> UserProfile:
    return UserProfile.model_validate({name: value for name, value in item.items() if name not in ("pk", "sk")})


class DynamoAccountStore:
    """Implements the domain's AccountStore and the sessions' SessionStore."""

    def __init__(self, table: SingleTable) -> None:
        self._table = table

    # --- users ---

    def create_user(self, profile: UserProfile, *, identity: tuple[str, str] | None = None) -> None:
        operations: list[TransactPut | TransactDelete] = [
            TransactPut(profile_item(profile), condition=_NEW),
            TransactPut({**keys.email_key(profile.email), "user_id": profile.user_id}, condition=_NEW),
        ]
        if identity is not None:
            operations.append(TransactPut({**keys.identity_key(*identity), "user_id": profile.user_id}, condition=_NEW))
            operations.append(TransactPut(_user_identity_item(profile.user_id, *identity), condition=_NEW))
        try:
            self._table.transact(operations, conflict_message="This e-mail address is taken.")
        except Conflict:
            raise EmailTaken from None

    def get_user(self, user_id: str) -> UserProfile | None:
        item = self._table.get(keys.profile_key(user_id), consistent=True)
        return profile_of(item) if item else None

    def user_id_for_email(self, email: str) -> str | None:
        item = self._table.get(keys.email_key(email), consistent=True)
        return str(item["user_id"]) if item else None

    def user_id_for_identity(self, provider: str, subject: str) -> str | None:
        item = self._table.get(keys.identity_key(provider, subject), consistent=True)
        return str(item["user_id"]) if item else None

    def update_user(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        remove: Sequence[str] = (),
        expected_session_version: int | None = None,
    ) -> UserProfile:
        condition: ConditionBase = Attr("pk").exists()
        if expected_session_version is not None:
            condition = condition & Attr("session_version").eq(expected_session_version)
        nulls = [name for name, value in changes.items() if value is None]
        item = self._table.update(
            keys.profile_key(user_id),
            set_values={name: _stored(value) for name, value in changes.items() if value is not None},
            remove=[*remove, *nulls],
            condition=condition,
            conflict_message="Your account changed meanwhile; please try again.",
        )
        return profile_of(item)

    def change_email(self, profile: UserProfile, new_email: str, *, now: datetime) -> UserProfile:
        updated = profile.model_copy(
            update={"email": new_email, "email_verified": True, "pending_email": None, "updated_at": now}
        )
        operations: list[TransactPut | TransactDelete] = [
            TransactPut({**keys.email_key(new_email), "user_id": profile.user_id}, condition=_NEW),
            TransactDelete(keys.email_key(profile.email)),
            TransactPut(profile_item(updated), condition=_EXISTING),
        ]
        try:
            self._table.transact(operations, conflict_message="This e-mail address is taken.")
        except Conflict:
            raise EmailTaken from None
        return updated

    def link_identity(self, user_id: str, provider: str, subject: str, *, now: datetime) -> UserProfile:
        profile = self.get_user(user_id)
        if profile is None:
            raise Conflict("The account is gone.")
        providers = tuple(sorted({*profile.providers, provider}))
        updated = profile.model_copy(update={"providers": providers, "updated_at": now})
        self._table.transact(
            [
                TransactPut({**keys.identity_key(provider, subject), "user_id": user_id}, condition=_NEW),
                TransactPut(_user_identity_item(user_id, provider, subject)),
                TransactPut(profile_item(updated), condition=_EXISTING),
            ],
            conflict_message="This sign-in is linked to an account already.",
        )
        return updated

    # --- tokens, sessions, OAuth flows ---

    def put_token(
        self,
        user_id: str,
        purpose: str,
        token_hash: str,
        *,
        email: str,
        expires_at: datetime,
        new_email: str | None = None,
    ) -> None:
        item: Item = {
            **keys.token_key(user_id, purpose),
            "token_hash": token_hash,
            "email": email,
            "expires_at": _epoch(expires_at),
        }
        if new_email is not None:
            item["new_email"] = new_email
        self._table.put(item)

    def take_token(self, user_id: str, purpose: str, token_hash: str, *, now: datetime) -> TokenRecord | None:
        condition = Attr("token_hash").eq(token_hash) & Attr("expires_at").gt(_epoch(now))
        try:
            item = self._table.delete(keys.token_key(user_id, purpose), condition=condition)
        except Conflict:
            return None
        if not item:
            return None
        return TokenRecord(purpose=purpose, email=str(item["email"]), new_email=item.get("new_email"))

    def end_session(self, session_id: str, *, until: datetime) -> None:
        self._table.put({**keys.session_revocation_key(session_id), "expires_at": _epoch(until) + 60})

    def put_oauth_state(self, state_hash: str, provider: str, *, expires_at: datetime) -> None:
        self._table.put({**keys.oauth_state_key(state_hash), "provider": provider, "expires_at": _epoch(expires_at)})

    def take_oauth_state(self, state_hash: str, provider: str, *, now: datetime) -> bool:
        condition = Attr("provider").eq(provider) & Attr("expires_at").gt(_epoch(now))
        try:
            return self._table.delete(keys.oauth_state_key(state_hash), condition=condition) is not None
        except Conflict:
            return False

    def tiktok_connected(self, user_id: str) -> bool:
        return bool(self._table.query_page(keys.user_pk(user_id), sk_prefix="TIKTOK#", limit=1).items)

    def session_user(self, user_id: str, session_id: str) -> SessionUser | None:
        profile = self.get_user(user_id)
        if profile is None or self._table.get(keys.session_revocation_key(session_id), consistent=True):
            return None
        return SessionUser(
            email=profile.email,
            timezone=profile.timezone,
            session_version=profile.session_version,
            tiktok_connected=self.tiktok_connected(user_id),
        )


class DynamoCounterStore:
    """Implements the rate limiter's CounterStore with atomic ADDs."""

    def __init__(self, table: SingleTable) -> None:
        self._table = table

    def hit(self, kind: str, key: str, *, window_start: datetime, expires_at: datetime) -> int:
        response = self._table.table.update_item(
            Key=_key(keys.rate_key(kind, f"{key}#{_epoch(window_start)}")),
            UpdateExpression="ADD #count :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":one": 1, ":expires": _epoch(expires_at)},
            ReturnValues="UPDATED_NEW",
        )
        return int(str(response["Attributes"]["count"]))

    def failures(self, kind: str, key: str) -> Failures | None:
        item = self._table.get(keys.rate_key(kind, key), consistent=True)
        if not item:
            return None
        return Failures(count=int(item["count"]), last_at=datetime.fromtimestamp(int(item["last_at"]), UTC))

    def add_failure(self, kind: str, key: str, *, now: datetime, expires_at: datetime) -> Failures:
        response = self._table.table.update_item(
            Key=_key(keys.rate_key(kind, key)),
            UpdateExpression="ADD #count :one SET last_at = :now, expires_at = :expires",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":one": 1, ":now": _epoch(now), ":expires": _epoch(expires_at)},
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        return Failures(
            count=int(str(attributes["count"])), last_at=datetime.fromtimestamp(int(str(attributes["last_at"])), UTC)
        )

    def clear_failures(self, kind: str, key: str) -> None:
        self._table.delete(keys.rate_key(kind, key))

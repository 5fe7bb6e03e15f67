"""The single table's key layout: the one module that knows how items are addressed.

| item               | pk                              | sk                 |
|--------------------|---------------------------------|--------------------|
| user profile       | USER#<user_id>                  | PROFILE            |
| email uniqueness   | EMAIL#<normalised email>        | EMAIL              |
| social identity    | IDP#<provider>#<subject>        | IDP                |
| TikTok account     | USER#<user_id>                  | TIKTOK#<open_id>   |
| post               | USER#<user_id>                  | POST#<post_id>     |
| subscription       | USER#<user_id>                  | SUBSCRIPTION       |
| Stripe customer    | STRIPE_CUSTOMER#<customer_id>   | STRIPE_CUSTOMER    |
| processed webhook  | WEBHOOK#<provider>#<event_id>   | WEBHOOK            |
| rate-limit counter | RATE#<kind>#<key>               | RATE               |
| e-mail token       | USER#<user_id>                  | TOKEN#<purpose>    |
| ended session      | SESSION#<session_id>            | REVOKED            |
| OAuth sign-in flow | OAUTH#<sha256 of state>         | STATE              |
| TikTok publish     | PUBLISH#<publish_id>            | PUBLISH            |
| TikTok account own | TIKTOK_OWNER#<open_id>          | USER#<user_id>     |
| user's identity    | USER#<user_id>                  | IDP#<provider>#<subject> |
| erasure request    | ERASURE#REQUEST                 | USER#<user_id>     |
| erasure receipt    | ERASURE#RECEIPT                 | <completed_at>#<request_id> |

Waiting posts also carry due_pk = DUE#<shard>, due_sk = <scheduled_at ISO>#<post_id> (DueIndex).
Finished posts and publish pointers carry due_pk = EXPIRE#<shard>, due_sk = <expires_at ISO>#<pk>
in the same index, so the purge sweep finds what has expired with a Query, never a Scan.
"""

import zlib
from datetime import UTC, datetime
from typing import TypedDict

DUE_INDEX = "DueIndex"
DUE_SHARDS = 4
EXPIRY_SHARDS = 4
ERASURE_REQUESTS_PK = "ERASURE#REQUEST"
ERASURE_RECEIPTS_PK = "ERASURE#RECEIPT"


class Key(TypedDict):
    pk: str
    sk: str


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def profile_key(user_id: str) -> Key:
    return {"pk": user_pk(user_id), "sk": "PROFILE"}


def email_key(normalised_email: str) -> Key:
    return {"pk": f"EMAIL#{normalised_email}", "sk": "EMAIL"}


def identity_key(provider: str, subject: str) -> Key:
    return {"pk": f"IDP#{provider}#{subject}", "sk": "IDP"}


def tiktok_account_key(user_id: str, open_id: str) -> Key:
    return {"pk": user_pk(user_id), "sk": f"TIKTOK#{open_id}"}


def post_key(user_id: str, post_id: str) -> Key:
    return {"pk": user_pk(user_id), "sk": f"POST#{post_id}"}


def subscription_key(user_id: str) -> Key:
    return {"pk": user_pk(user_id), "sk": "SUBSCRIPTION"}


def stripe_customer_key(customer_id: str) -> Key:
    """Which user a Stripe customer belongs to (webhook events name only the customer)."""
    return {"pk": f"STRIPE_CUSTOMER#{customer_id}", "sk": "STRIPE_CUSTOMER"}


def webhook_key(provider: str, event_id: str) -> Key:
    return {"pk": f"WEBHOOK#{provider}#{event_id}", "sk": "WEBHOOK"}


def rate_key(kind: str, key: str) -> Key:
    return {"pk": f"RATE#{kind}#{key}", "sk": "RATE"}


def token_key(user_id: str, purpose: str) -> Key:
    """One live token per user and purpose: issuing a new one replaces (invalidates) the older one."""
    return {"pk": user_pk(user_id), "sk": f"TOKEN#{purpose}"}


def session_revocation_key(session_id: str) -> Key:
    return {"pk": f"SESSION#{session_id}", "sk": "REVOKED"}


def oauth_state_key(state_hash: str) -> Key:
    return {"pk": f"OAUTH#{state_hash}", "sk": "STATE"}


def publish_key(publish_id: str) -> Key:
    """Which post a TikTok publish_id belongs to (TikTok's webhooks name only the publish_id)."""
    return {"pk": f"PUBLISH#{publish_id}", "sk": "PUBLISH"}


def tiktok_owner_key(open_id: str, user_id: str) -> Key:
    """Which users connected a TikTok account (its webhooks name only the open_id)."""
    return {"pk": tiktok_owner_pk(open_id), "sk": user_pk(user_id)}


def tiktok_owner_pk(open_id: str) -> str:
    return f"TIKTOK_OWNER#{open_id}"


def due_keys(post_id: str, scheduled_at_iso: str) -> dict[str, str]:
    """GSI attributes of a waiting post; the shard spreads writes so no partition runs hot."""
    shard = zlib.crc32(post_id.encode()) % DUE_SHARDS
    return {"due_pk": f"DUE#{shard}", "due_sk": f"{scheduled_at_iso}#{post_id}"}


def due_partitions() -> list[str]:
    return [f"DUE#{shard}" for shard in range(DUE_SHARDS)]


def user_identity_key(user_id: str, provider: str, subject: str) -> Key:
    """The user's own record of a linked sign-in identity (export and erasure find it by a Query)."""
    return {"pk": user_pk(user_id), "sk": f"IDP#{provider}#{subject}"}


def erasure_request_key(user_id: str) -> Key:
    """An account erasure waiting for (or part-way through) the purge function."""
    return {"pk": ERASURE_REQUESTS_PK, "sk": user_pk(user_id)}


def erasure_receipt_key(completed_at_iso: str, request_id: str) -> Key:
    """The minimal record that an erasure was done: no user id, no personal data."""
    return {"pk": ERASURE_RECEIPTS_PK, "sk": f"{completed_at_iso}#{request_id}"}


def expiry_instant(epoch: int) -> str:
    """An `expires_at` (epoch seconds) as the DueIndex sort key writes it: ISO UTC, sorts like time."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry_keys(pk: str, sk: str, expires_at: int) -> dict[str, str]:
    """DueIndex attributes of an item that must be gone at `expires_at` (the metadata sweep's query path)."""
    shard = zlib.crc32(f"{pk}|{sk}".encode()) % EXPIRY_SHARDS
    return {"due_pk": f"EXPIRE#{shard}", "due_sk": f"{expiry_instant(expires_at)}#{pk}|{sk}"}


def expiry_partitions() -> list[str]:
    return [f"EXPIRE#{shard}" for shard in range(EXPIRY_SHARDS)]

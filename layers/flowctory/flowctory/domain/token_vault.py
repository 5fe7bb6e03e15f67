"""Sealing a TikTok account's token pair: one KMS call each way, bound to the user and the account.

Both tokens are sealed together so a publish costs exactly one KMS decrypt. The encryption
context names the user, the TikTok account and the purpose, so a ciphertext copied onto another
user's or another account's item cannot be decrypted (promise P05).
"""

import json
from datetime import datetime

from pydantic import ConfigDict, SecretStr

from flowctory.models.base import Model
from flowctory.models.tiktok import TokenGrant
from flowctory.ports import TokenCipher

PURPOSE = "tiktok-tokens"


class TokenPair(Model):
    """A TikTok access/refresh token pair with the lifetimes TikTok gave for them (never assumed)."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    access_expires_at: datetime
    refresh_expires_at: datetime
    scopes: tuple[str, ...]

    @classmethod
    def from_grant(cls, grant: TokenGrant, *, issued_at: datetime, scopes: tuple[str, ...] = ()) -> "TokenPair":
        """The pair a token response gives, with its lifetimes counted from `issued_at`; `scopes`
        stands in when a refresh response does not repeat them."""
        return cls(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            access_expires_at=grant.access_expires_at(issued_at),
            refresh_expires_at=grant.refresh_expires_at(issued_at),
            scopes=grant.scope or scopes,
        )


def encryption_context(*, user_id: str, open_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "user_id": user_id, "open_id": open_id}


def seal(cipher: TokenCipher, tokens: TokenPair, *, user_id: str, open_id: str) -> bytes:
    secret_fields = {
        "access_token": tokens.access_token.get_secret_value(),
        "refresh_token": tokens.refresh_token.get_secret_value(),
    }
    plaintext = json.dumps(secret_fields, separators=(",", ":")).encode()
    return cipher.encrypt(plaintext, context=encryption_context(user_id=user_id, open_id=open_id))


def unseal(
    cipher: TokenCipher,
    ciphertext: bytes,
    *,
    user_id: str,
    open_id: str,
    access_expires_at: datetime,
    refresh_expires_at: datetime,
    scopes: tuple[str, ...],
) -> TokenPair:
    """The token pair sealed for this user and account.

    Raises:
        UndecryptableSecret: the ciphertext was sealed for another context.
    """
    secret_fields = json.loads(cipher.decrypt(ciphertext, context=encryption_context(user_id=user_id, open_id=open_id)))
    return TokenPair(
        access_token=secret_fields["access_token"],
        refresh_token=secret_fields["refresh_token"],
        access_expires_at=access_expires_at,
        refresh_expires_at=refresh_expires_at,
        scopes=scopes,
    )

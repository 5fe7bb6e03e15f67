"""TikTok tokens are sealed with KMS under a context bound to the user and the account (promise P05)."""

from datetime import UTC, datetime, timedelta

import pytest

from flowctory.adapters import aws as aws_clients
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.domain import token_vault
from flowctory.errors import UndecryptableSecret

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TOKENS = token_vault.TokenPair(
    access_token="act.example-access-token-value",
    refresh_token="rft.example-refresh-token-value",
    access_expires_at=NOW + timedelta(hours=24),
    refresh_expires_at=NOW + timedelta(days=365),
    scopes=("user.info.basic", "video.publish"),
)


def unseal(cipher, ciphertext, *, user_id, open_id):
    return token_vault.unseal(
        cipher,
        ciphertext,
        user_id=user_id,
        open_id=open_id,
        access_expires_at=TOKENS.access_expires_at,
        refresh_expires_at=TOKENS.refresh_expires_at,
        scopes=TOKENS.scopes,
    )


@pytest.fixture
def cipher(aws) -> KmsTokenCipher:
    return KmsTokenCipher(aws.ref("AppKey"))


def test_p05_sealed_tokens_round_trip_for_their_own_user_and_account(cipher):
    ciphertext = token_vault.seal(cipher, TOKENS, user_id="u1", open_id="open-1")
    assert unseal(cipher, ciphertext, user_id="u1", open_id="open-1") == TOKENS


def test_p05_ciphertext_holds_no_token_in_clear(cipher):
    ciphertext = token_vault.seal(cipher, TOKENS, user_id="u1", open_id="open-1")
    assert b"example-access-token" not in ciphertext
    assert b"example-refresh-token" not in ciphertext


@pytest.mark.parametrize(("user_id", "open_id"), [("u2", "open-1"), ("u1", "open-2")])
def test_p05_ciphertext_copied_to_another_user_or_account_does_not_decrypt(cipher, user_id, open_id):
    # Given tokens sealed for user u1's account open-1
    ciphertext = token_vault.seal(cipher, TOKENS, user_id="u1", open_id="open-1")

    # When the ciphertext is read as if it belonged to another user or another account
    # Then KMS refuses it
    with pytest.raises(UndecryptableSecret):
        unseal(cipher, ciphertext, user_id=user_id, open_id=open_id)


def test_both_tokens_cost_one_kms_call_each_way(cipher):
    # Given a record of the KMS calls the adapter makes
    calls: list[str] = []
    aws_clients.kms().meta.events.register("before-call.kms.*", lambda model, **_: calls.append(model.name))

    # When a pair is sealed and unsealed
    ciphertext = token_vault.seal(cipher, TOKENS, user_id="u1", open_id="open-1")
    unseal(cipher, ciphertext, user_id="u1", open_id="open-1")

    # Then that took one Encrypt and one Decrypt
    assert calls == ["Encrypt", "Decrypt"]


def test_p05_tokens_do_not_show_in_repr_or_logs():
    assert "example-access-token" not in repr(TOKENS)
    assert "example-refresh-token" not in str(TOKENS.model_dump())

"""Single-use tokens mailed to users: e-mail verification, e-mail change and password reset (security §4).

A token is `<purpose letter>.<user id>.<256 random bits>`. Only the SHA-256 of the random part is
stored, in one item per user and purpose: issuing a new token replaces the older one, and using a
token deletes its item under a condition on the hash, so it works once. The purpose letter and the
item's purpose must agree, so a verification token can never reset a password.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    CHANGE_EMAIL = "change_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a secret


LETTERS = {Purpose.VERIFY_EMAIL: "v", Purpose.CHANGE_EMAIL: "c", Purpose.RESET_PASSWORD: "r"}
LIFETIMES = {
    Purpose.VERIFY_EMAIL: timedelta(hours=24),
    Purpose.CHANGE_EMAIL: timedelta(hours=24),
    Purpose.RESET_PASSWORD: timedelta(minutes=30),
}
MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True)
class IssuedToken:
    token: str  # goes into the mailed link only
    token_hash: str  # what is stored


@dataclass(frozen=True)
class ParsedToken:
    purpose: Purpose
    user_id: str
    token_hash: str


def issue(purpose: Purpose, user_id: str) -> IssuedToken:
    secret = secrets.token_urlsafe(32)
    return IssuedToken(token=f"{LETTERS[purpose]}.{user_id}.{secret}", token_hash=hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> ParsedToken | None:
    """The parts of a token, or None if it cannot be one of ours."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    letter, _, rest = token.partition(".")
    user_id, _, secret = rest.partition(".")
    purposes = {value: purpose for purpose, value in LETTERS.items()}
    if letter not in purposes or not user_id or len(secret) < 32:
        return None
    return ParsedToken(purpose=purposes[letter], user_id=user_id, token_hash=hash_secret(secret))


def state_hash(state: str) -> str:
    """What is stored of an OAuth `state` (sign-in and TikTok connection): its hash, never the value."""
    return hashlib.sha256(state.encode()).hexdigest()

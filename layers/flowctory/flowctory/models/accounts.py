"""Accounts: the user's profile, and the auth API's requests and responses.

Sign-up collects exactly what the privacy policy §2.1 lists (e-mail, password, display name,
timezone) plus the age attestation and acceptance of the terms (§12, §13): requests forbid any
other field, so nothing else can be sent in and stored.
"""

import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictBool

from flowctory.models.base import Model

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
MAX_PASSWORD_INPUT = 1024  # the password rule (128) is checked by the domain, with its own error code

# Syntax only (OWASP Email Validation cheat sheet): the verification e-mail is the real check, so
# no DNS lookups and no dependency for them. Domains may be internationalised (IDNA).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(value: str) -> str:
    """The address as stored and compared: trimmed, lower-cased, domain in IDNA form.

    Raises:
        ValueError: it is not an e-mail address.
    """
    address = unicodedata.normalize("NFC", value.strip())
    local, at, domain = address.rpartition("@")
    if not at or not local or len(local) > 64 or not _LOCAL_PART.match(local):
        raise ValueError("not a valid e-mail address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not a valid e-mail address") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("not a valid e-mail address")
    normalised = f"{local.lower()}@{ascii_domain}"
    if len(normalised) > MAX_EMAIL_LENGTH:
        raise ValueError("not a valid e-mail address")
    return normalised


@lru_cache
def known_timezones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def check_timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("not an IANA time zone (for example Europe/Paris)")
    return value


def clean_name(value: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if not name or any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("a display name needs visible characters")
    return name


Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL_LENGTH * 2), AfterValidator(normalise_email)]
Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(check_timezone)]
DisplayName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(clean_name)]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_INPUT)]
Token = Annotated[str, Field(min_length=1, max_length=512)]


class UserProfile(Model):
    """The profile item's content (promise P01): nothing beyond the policy's list, the consents and the
    security state. The password is only ever held as its argon2id hash."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    email: str
    email_verified: bool = False
    password_hash: str | None = None
    name: str
    avatar_url: str | None = None
    timezone: str
    session_version: int = 1
    providers: tuple[str, ...] = ()
    pending_email: str | None = None
    created_at: datetime
    updated_at: datetime
    age_attested_at: datetime
    terms_accepted_at: datetime
    policy_version: str
    # Set (True, with the time) while the user restricts the processing of their data (GDPR Art. 18,
    # promise P25); absent otherwise. Fields here, so that writes of the whole profile keep them.
    restricted: bool | None = None
    restricted_at: datetime | None = None


# --- requests ---------------------------------------------------------------------------------


class _Request(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignupRequest(_Request):
    email: Email
    password: Password
    name: DisplayName
    timezone: Timezone
    age_confirmed: StrictBool = Field(
        description="The user attests being at least 16 (in the EU) or 13 (elsewhere). No birth date is asked."
    )
    accept_terms: StrictBool = Field(description="The user accepts the terms and the current privacy policy.")


class LoginRequest(_Request):
    email: Annotated[str, Field(min_length=1, max_length=MAX_EMAIL_LENGTH * 2)]
    password: Password


class VerifyEmailRequest(_Request):
    token: Token


class ForgotPasswordRequest(_Request):
    email: Annotated[str, Field(min_length=1, max_length=MAX_EMAIL_LENGTH * 2)]


class ResetPasswordRequest(_Request):
    token: Token
    password: Password


class ChangePasswordRequest(_Request):
    current_password: Password
    new_password: Password


class UpdateProfileRequest(_Request):
    """Rectification (policy §7.2, promise P23). A new e-mail takes effect once confirmed from that address;
    changing it needs the current password (or, for an account without one, a sign-in in the last 10 minutes)."""

    name: DisplayName | None = None
    timezone: Timezone | None = None
    email: Email | None = None
    current_password: Password | None = None
    accept_policy: Literal[True] | None = Field(
        default=None, description="Accept the current privacy policy version (after being told it changed)."
    )


# --- responses --------------------------------------------------------------------------------


class UserView(Model):
    id: str
    email: str
    email_verified: bool
    pending_email: str | None
    name: str
    avatar_url: str | None
    timezone: str
    has_password: bool
    sign_in_providers: list[str]
    tiktok_connected: bool
    policy_version: str
    policy_update_required: bool = Field(description="A newer privacy policy exists; show it and ask to accept it.")
    restricted: bool = Field(description="The user restricts the processing of their data (PUT /me/restriction).")
    created_at: datetime

    @classmethod
    def of(cls, profile: UserProfile, *, tiktok_connected: bool, current_policy: str) -> "UserView":
        return cls(
            id=profile.user_id,
            email=profile.email,
            email_verified=profile.email_verified,
            pending_email=profile.pending_email,
            name=profile.name,
            avatar_url=profile.avatar_url,
            timezone=profile.timezone,
            has_password=profile.password_hash is not None,
            sign_in_providers=list(profile.providers),
            tiktok_connected=tiktok_connected,
            policy_version=profile.policy_version,
            policy_update_required=profile.policy_version != current_policy,
            restricted=bool(profile.restricted),
            created_at=profile.created_at,
        )


class SessionView(Model):
    user: UserView
    csrf_token: str = Field(description="Send it back in the X-CSRF-Token header of every POST, PATCH or DELETE.")
    expires_at: datetime = Field(description="When the session ends without activity (it slides on each request).")
    absolute_expires_at: datetime = Field(description="When the session ends whatever the activity.")


class CsrfView(Model):
    csrf_token: str


class AcceptedView(Model):
    status: Literal["accepted"] = "accepted"
    message: str


class EmailVerifiedView(Model):
    email: str
    email_verified: bool


class SignedOutView(Model):
    signed_out: bool = True


class PasswordResetView(Model):
    password_reset: bool = True
    message: str = "Your password was changed and every session was signed out. Sign in with the new password."

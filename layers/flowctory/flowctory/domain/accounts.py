"""Accounts: sign-up, sign-in, e-mail verification, password reset and change, and profile rectification.

Pure logic over the ports below; the auth function's routes call one of these per request. Rules
of the security reference kept here: no account enumeration through sign-in or reset (same
answer, same work, same timing), limits per IP and per account, single-use hashed tokens, a
security e-mail whenever a password, e-mail address or sign-in method changes, and every other
session ended by a password change or reset (the session version moves on).
"""

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flowctory.domain import emails, ratelimits, tokens
from flowctory.domain.emails import Mailer
from flowctory.domain.passwords import PasswordHasher, check_new_password
from flowctory.domain.ratelimits import RateLimiter
from flowctory.errors import BadRequest, Conflict, Forbidden, Unauthenticated
from flowctory.models.accounts import SignupRequest, UpdateProfileRequest, UserProfile, normalise_email
from flowctory.sessions import REAUTHENTICATION_WINDOW, InvalidSession, Session

RESET_REQUEST_MIN_SECONDS = 0.35
_NO_USER = "0" * 32  # looked up when an e-mail has no account, so both paths read the table alike


class EmailTaken(Conflict):
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__("An account already uses this e-mail address. Sign in, or reset your password.")


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The e-mail address or password is incorrect.")


class InvalidToken(BadRequest):
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("This link is invalid, was already used, or has expired. Ask for a new one.")


@dataclass(frozen=True)
class TokenRecord:
    purpose: str
    email: str  # the account's address when the token was issued
    new_email: str | None = None


class AccountStore(Protocol):
    def create_user(self, profile: UserProfile, *, identity: tuple[str, str] | None = None) -> None:
        """Write the profile, its e-mail key (and identity key) in one transaction.

        Raises:
            EmailTaken: the e-mail (or the identity) is already taken.
        """
        ...

    def get_user(self, user_id: str) -> UserProfile | None: ...

    def user_id_for_email(self, email: str) -> str | None: ...

    def user_id_for_identity(self, provider: str, subject: str) -> str | None: ...

    def update_user(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        remove: Sequence[str] = (),
        expected_session_version: int | None = None,
    ) -> UserProfile:
        """Set (and remove) profile fields; with `expected_session_version`, only if it still holds.

        Raises:
            Conflict: the user is gone or the version moved on meanwhile.
        """
        ...

    def change_email(self, profile: UserProfile, new_email: str, *, now: datetime) -> UserProfile:
        """Move the profile to `new_email` (verified) and its e-mail key with it, in one transaction.

        Raises:
            EmailTaken: another account took that address meanwhile.
        """
        ...

    def link_identity(self, user_id: str, provider: str, subject: str, *, now: datetime) -> UserProfile:
        """Raises:
        Conflict: the identity is linked to an account already.
        """
        ...

    def put_token(
        self,
        user_id: str,
        purpose: str,
        token_hash: str,
        *,
        email: str,
        expires_at: datetime,
        new_email: str | None = None,
    ) -> None: ...

    def take_token(self, user_id: str, purpose: str, token_hash: str, *, now: datetime) -> TokenRecord | None:
        """Delete the live token with this hash and return what it held; None if there is none."""
        ...

    def end_session(self, session_id: str, *, until: datetime) -> None: ...

    def put_oauth_state(self, state_hash: str, provider: str, *, expires_at: datetime) -> None: ...

    def take_oauth_state(self, state_hash: str, provider: str, *, now: datetime) -> bool:
        """Delete the live flow with this state for `provider`; False if there is none (replayed, expired)."""
        ...

    def tiktok_connected(self, user_id: str) -> bool: ...


@dataclass
class AccountDeps:
    store: AccountStore
    hasher: PasswordHasher
    mailer: Mailer
    limiter: RateLimiter
    web_origin: str
    policy_version: str
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    reset_request_min_seconds: float = RESET_REQUEST_MIN_SECONDS


def send_token(deps: AccountDeps, profile: UserProfile, purpose: tokens.Purpose, *, now: datetime, to: str) -> None:
    issued = tokens.issue(purpose, profile.user_id)
    deps.store.put_token(
        profile.user_id,
        purpose.value,
        issued.token_hash,
        email=profile.email,
        new_email=to if purpose is tokens.Purpose.CHANGE_EMAIL else None,
        expires_at=now + tokens.LIFETIMES[purpose],
    )
    if purpose is tokens.Purpose.VERIFY_EMAIL:
        mail = emails.verify_email(to, profile.name, web_origin=deps.web_origin, token=issued.token)
    elif purpose is tokens.Purpose.CHANGE_EMAIL:
        mail = emails.confirm_new_email(to, profile.name, web_origin=deps.web_origin, token=issued.token)
    else:
        mail = emails.reset_password(to, profile.name, web_origin=deps.web_origin, token=issued.token)
    deps.mailer.send(mail)


def sign_up(deps: AccountDeps, request: SignupRequest, *, now: datetime, source_ip: str) -> UserProfile:
    """Create an e-mail + password account and mail its verification link.

    Raises:
        TooManyAttempts: too many sign-ups from this IP.
        BadRequest: the age attestation or the terms are not accepted (`age_not_confirmed`,
            `terms_not_accepted`), or the password breaks a rule (WeakPassword).
        EmailTaken: an account has this address (its owner gets an e-mail about the attempt).
    """
    deps.limiter.hit(ratelimits.SIGNUP_PER_IP, source_ip, now=now)
    if not request.age_confirmed:
        raise BadRequest(
            "Flowctory is for people aged 16 or more in the European Union, 13 or more elsewhere. "
            "Please confirm your age to create an account.",
            code="age_not_confirmed",
        )
    if not request.accept_terms:
        raise BadRequest("Please accept the terms and the privacy policy.", code="terms_not_accepted")
    check_new_password(request.password, email=request.email)
    profile = UserProfile(
        user_id=deps.new_id(),
        email=request.email,
        email_verified=False,
        password_hash=deps.hasher.hash(request.password),
        name=request.name,
        timezone=request.timezone,
        session_version=1,
        created_at=now,
        updated_at=now,
        age_attested_at=now,
        terms_accepted_at=now,
        policy_version=deps.policy_version,
    )
    try:
        deps.store.create_user(profile)
    except EmailTaken:
        deps.mailer.send(emails.sign_up_attempt(request.email, web_origin=deps.web_origin))
        raise
    send_token(deps, profile, tokens.Purpose.VERIFY_EMAIL, now=now, to=profile.email)
    return profile


def _lookup(deps: AccountDeps, email_input: str) -> UserProfile | None:
    try:
        email = normalise_email(email_input)
    except ValueError:
        email = None
    user_id = deps.store.user_id_for_email(email) if email else None
    profile = deps.store.get_user(user_id or _NO_USER)
    return profile if user_id else None


def log_in(deps: AccountDeps, email_input: str, password: str, *, now: datetime, source_ip: str) -> UserProfile:
    """Check an e-mail and password. Whether the account exists, is locked or unverified, the failure is
    the same, and exactly one password verification runs.

    Raises:
        TooManyAttempts: too many attempts from this IP, or this account must wait after failures.
        InvalidCredentials: anything else that is not a match.
    """
    deps.limiter.hit(ratelimits.LOGIN_PER_IP, source_ip, now=now)
    deps.limiter.check_login(email_input, now=now)
    profile = _lookup(deps, email_input)
    if profile is None or profile.password_hash is None:
        deps.hasher.verify_dummy(password)
        matched = False
    else:
        matched = deps.hasher.verify(profile.password_hash, password)
    if not matched or profile is None or profile.password_hash is None:
        deps.limiter.login_failed(email_input, now=now)
        raise InvalidCredentials
    deps.limiter.login_succeeded(email_input)
    if deps.hasher.needs_rehash(profile.password_hash):
        profile = deps.store.update_user(profile.user_id, {"password_hash": deps.hasher.hash(password)})
    return profile


def verify_email(deps: AccountDeps, token: str, *, now: datetime, source_ip: str) -> UserProfile:
    """Confirm an address from the mailed link: the account's own, or the new one of an e-mail change.

    Raises:
        InvalidToken: malformed, tampered, used, replaced, expired, or meant for something else.
        EmailTaken: the new address was taken by another account meanwhile.
    """
    deps.limiter.hit(ratelimits.TOKEN_USE_PER_IP, source_ip, now=now)
    parsed = tokens.parse(token)
    if parsed is None or parsed.purpose not in (tokens.Purpose.VERIFY_EMAIL, tokens.Purpose.CHANGE_EMAIL):
        raise InvalidToken
    record = deps.store.take_token(parsed.user_id, parsed.purpose.value, parsed.token_hash, now=now)
    profile = deps.store.get_user(parsed.user_id) if record else None
    if record is None or profile is None or record.email != profile.email:
        raise InvalidToken
    if parsed.purpose is tokens.Purpose.VERIFY_EMAIL:
        return deps.store.update_user(profile.user_id, {"email_verified": True, "updated_at": now})
    if record.new_email is None or profile.pending_email != record.new_email:
        raise InvalidToken
    changed = deps.store.change_email(profile, record.new_email, now=now)
    deps.mailer.send(emails.email_changed(profile.email, profile.name, new_email=record.new_email))
    return changed


def resend_verification(deps: AccountDeps, session: Session, *, now: datetime) -> None:
    """Mail a new verification link (the older one stops working).

    Raises:
        TooManyAttempts: three already in the last 15 minutes.
    """
    deps.limiter.hit(ratelimits.VERIFY_RESEND_PER_USER, session.user_id, now=now)
    profile = deps.store.get_user(session.user_id)
    if profile is None:
        raise InvalidSession
    if profile.pending_email:
        send_token(deps, profile, tokens.Purpose.CHANGE_EMAIL, now=now, to=profile.pending_email)
    elif not profile.email_verified:
        send_token(deps, profile, tokens.Purpose.VERIFY_EMAIL, now=now, to=profile.email)


def request_password_reset(deps: AccountDeps, email_input: str, *, now: datetime, source_ip: str) -> None:
    """Mail a reset link if an account has this address. The answer and its timing are the same
    either way: the request takes at least `reset_request_min_seconds`.

    Raises:
        TooManyAttempts: too many requests from this IP (whatever the address).
    """
    started = deps.monotonic()
    deps.limiter.hit(ratelimits.RESET_REQUEST_PER_IP, source_ip, now=now)
    profile = _lookup(deps, email_input)
    if profile is not None and deps.limiter.allow(
        ratelimits.RESET_REQUEST_PER_ACCOUNT, ratelimits.account_key(profile.email), now=now
    ):
        send_token(deps, profile, tokens.Purpose.RESET_PASSWORD, now=now, to=profile.email)
    remaining = deps.reset_request_min_seconds - (deps.monotonic() - started)
    if remaining > 0:
        deps.sleep(remaining)


def reset_password(deps: AccountDeps, token: str, password: str, *, now: datetime, source_ip: str) -> UserProfile:
    """Set a new password from the mailed link; every session ends and the account is unlocked.

    Raises:
        WeakPassword: the new password breaks a rule (the link stays usable).
        InvalidToken: the link is not a live reset link.
    """
    deps.limiter.hit(ratelimits.TOKEN_USE_PER_IP, source_ip, now=now)
    check_new_password(password)
    parsed = tokens.parse(token)
    if parsed is None or parsed.purpose is not tokens.Purpose.RESET_PASSWORD:
        raise InvalidToken
    profile = deps.store.get_user(parsed.user_id)
    if profile is None:
        raise InvalidToken
    check_new_password(password, email=profile.email)
    password_hash = deps.hasher.hash(password)
    record = deps.store.take_token(parsed.user_id, parsed.purpose.value, parsed.token_hash, now=now)
    if record is None or record.email != profile.email:
        raise InvalidToken
    updated = deps.store.update_user(
        profile.user_id,
        {
            "password_hash": password_hash,
            "session_version": profile.session_version + 1,
            "email_verified": True,  # the link proved the address is theirs
            "updated_at": now,
        },
    )
    deps.limiter.login_succeeded(profile.email)
    deps.mailer.send(emails.password_changed(profile.email, profile.name, web_origin=deps.web_origin))
    return updated


def _reauthenticate(deps: AccountDeps, profile: UserProfile, password: str | None, *, now: datetime) -> None:
    """Raises:
    TooManyAttempts: the account must wait after failures.
    Forbidden: the current password is missing or wrong (`wrong_password`).
    """
    deps.limiter.check_login(profile.email, now=now)
    if profile.password_hash is None or password is None or not deps.hasher.verify(profile.password_hash, password):
        if password is not None:
            deps.limiter.login_failed(profile.email, now=now)
        raise Forbidden("Your current password is missing or incorrect.", code="wrong_password")


def change_password(
    deps: AccountDeps, session: Session, current_password: str, new_password: str, *, now: datetime
) -> UserProfile:
    """Replace the password of the signed-in user; every other session ends.

    Raises:
        BadRequest: the account has no password yet (`no_password`: use the reset link to set one).
        Forbidden: the current password is wrong.
        WeakPassword: the new one breaks a rule.
    """
    profile = deps.store.get_user(session.user_id)
    if profile is None:
        raise InvalidSession
    if profile.password_hash is None:
        raise BadRequest(
            "This account signs in with Google or Facebook. To add a password, use “Forgot password”.",
            code="no_password",
        )
    _reauthenticate(deps, profile, current_password, now=now)
    check_new_password(new_password, email=profile.email)
    updated = deps.store.update_user(
        profile.user_id,
        {
            "password_hash": deps.hasher.hash(new_password),
            "session_version": profile.session_version + 1,
            "updated_at": now,
        },
        expected_session_version=profile.session_version,
    )
    deps.limiter.login_succeeded(profile.email)
    deps.mailer.send(emails.password_changed(profile.email, profile.name, web_origin=deps.web_origin))
    return updated


def update_profile(deps: AccountDeps, session: Session, request: UpdateProfileRequest, *, now: datetime) -> UserProfile:
    """Rectify name and timezone at once; a new e-mail address only once confirmed from it.

    Raises:
        Forbidden: an e-mail change without re-authentication (`wrong_password`, `reauthentication_required`).
        EmailTaken: another account has the new address.
    """
    profile = deps.store.get_user(session.user_id)
    if profile is None:
        raise InvalidSession
    changes: dict[str, Any] = {}
    if request.name is not None and request.name != profile.name:
        changes["name"] = request.name
    if request.timezone is not None and request.timezone != profile.timezone:
        changes["timezone"] = request.timezone
    if request.accept_policy:
        changes.update(policy_version=deps.policy_version, terms_accepted_at=now)
    new_email = request.email if request.email is not None and request.email != profile.email else None
    if new_email is not None:
        if profile.password_hash is not None:
            _reauthenticate(deps, profile, request.current_password, now=now)
        elif now - session.auth_time > REAUTHENTICATION_WINDOW:
            raise Forbidden(
                "For your security, sign in again before changing your e-mail address.",
                code="reauthentication_required",
            )
        if deps.store.user_id_for_email(new_email) is not None:
            raise EmailTaken
        changes["pending_email"] = new_email
    if not changes:
        return profile
    changes["updated_at"] = now
    updated = deps.store.update_user(profile.user_id, changes)
    if new_email is not None:
        send_token(deps, updated, tokens.Purpose.CHANGE_EMAIL, now=now, to=new_email)
        deps.mailer.send(emails.email_change_requested(profile.email, profile.name, new_email=new_email))
    return updated


def sign_out(deps: AccountDeps, session: Session | None) -> None:
    """End this session now, even if its cookie were replayed later (logout)."""
    if session is not None:
        deps.store.end_session(session.session_id, until=session.absolute_expires_at)

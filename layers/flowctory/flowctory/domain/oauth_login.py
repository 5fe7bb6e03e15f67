"""Sign-in with Google (OpenID Connect) or Facebook: the flow's state, and which account an identity opens.

Only these two providers sign users in (policy §2.1): a TikTok account is connected separately,
once signed in, and never opens a session (promise P03).

The flow (security §8, RFC 9700): the start makes a one-time `state` (also stored server-side,
so a replayed callback fails even with its cookie), a PKCE S256 verifier and, for OpenID Connect,
a `nonce`; the browser carries them sealed in the `authjs.callback-url` cookie for 10 minutes.
The callback requires the cookie, the same provider, the same state (compared in constant time)
and the stored state, which it consumes.

Which account: an identity already linked signs its user in; otherwise an account with the same
e-mail is linked only if both the provider and the account have verified that address (no
pre-account hijacking); otherwise a new account is created with the provider's name and avatar.
"""

import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowctory.domain import emails
from flowctory.domain.accounts import AccountDeps, EmailTaken, send_token
from flowctory.domain.tokens import Purpose, state_hash
from flowctory.errors import BadRequest, Conflict, NotFound
from flowctory.models.accounts import UserProfile, clean_name, normalise_email

SIGN_IN_PROVIDERS = ("google", "facebook")
FLOW_LIFETIME = timedelta(minutes=10)
DEFAULT_TIMEZONE = "UTC"


class UnknownProvider(NotFound):
    code = "unknown_provider"

    def __init__(self) -> None:
        super().__init__("Sign in with e-mail and password, Google or Facebook. TikTok is connected after sign-in.")


class ProviderUnavailable(NotFound):
    code = "provider_unavailable"

    def __init__(self, provider: str) -> None:
        super().__init__(f"Sign-in with {provider.capitalize()} is not available on this deployment.")


class OAuthStateInvalid(BadRequest):
    code = "oauth_state_invalid"

    def __init__(self) -> None:
        super().__init__("This sign-in attempt has expired or was already used. Please start again.")


class OAuthDenied(BadRequest):
    def __init__(self, provider: str, error: str) -> None:
        cancelled = error == "access_denied"
        super().__init__(
            f"Sign-in with {provider.capitalize()} was cancelled."
            if cancelled
            else f"{provider.capitalize()} could not sign you in. Please try again.",
            code="oauth_denied" if cancelled else "oauth_error",
        )


class AccountNotLinked(Conflict):
    code = "account_not_linked"

    def __init__(self) -> None:
        super().__init__(
            "An account already uses this e-mail address. Sign in the way you did before; "
            "the provider can be linked once both sides have confirmed the address."
        )


class ConsentRequired(BadRequest):
    code = "consent_required"

    def __init__(self) -> None:
        super().__init__(
            "To create an account, confirm your age (16 or more in the European Union, 13 or more elsewhere) "
            "and accept the terms, then continue again."
        )


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    avatar_url: str | None


class IdentityProvider(Protocol):
    name: str
    uses_nonce: bool

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None) -> str: ...

    def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str | None, now: datetime
    ) -> ProviderIdentity:
        """Exchange the code (with the PKCE verifier) and return who signed in.

        Raises:
            BadRequest: the provider refused the code or its answer does not verify (`oauth_error`).
            UpstreamError: the provider could not be reached.
        """
        ...


@dataclass(frozen=True)
class OAuthFlow:
    """What the browser carries (sealed) between the start and the callback."""

    provider: str
    state: str
    code_verifier: str
    nonce: str | None
    callback_url: str
    timezone: str | None = None
    age_confirmed: bool = False
    accept_terms: bool = False

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "OAuthFlow":
        try:
            return cls(**payload)
        except TypeError:
            raise OAuthStateInvalid from None


def begin(
    deps: AccountDeps,
    provider: IdentityProvider,
    *,
    redirect_uri: str,
    callback_url: str,
    timezone: str | None,
    age_confirmed: bool,
    accept_terms: bool,
    now: datetime,
) -> tuple[str, OAuthFlow]:
    """The provider's authorization URL to redirect to, and the flow the browser must carry."""
    flow = OAuthFlow(
        provider=provider.name,
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),  # 64 characters of [A-Za-z0-9_-] (RFC 7636: 43 to 128)
        nonce=secrets.token_urlsafe(24) if provider.uses_nonce else None,
        callback_url=callback_url,
        timezone=timezone,
        age_confirmed=age_confirmed,
        accept_terms=accept_terms,
    )
    deps.store.put_oauth_state(state_hash(flow.state), provider.name, expires_at=now + FLOW_LIFETIME)
    url = provider.authorization_url(
        redirect_uri=redirect_uri, state=flow.state, code_verifier=flow.code_verifier, nonce=flow.nonce
    )
    return url, flow


def finish(
    deps: AccountDeps,
    provider: IdentityProvider,
    flow: OAuthFlow | None,
    *,
    redirect_uri: str,
    state: str | None,
    code: str | None,
    error: str | None,
    now: datetime,
) -> UserProfile:
    """Complete a sign-in at the provider's callback.

    Raises:
        OAuthStateInvalid: no flow cookie, another provider's flow, a different, expired or used state.
        OAuthDenied: the provider answered with an error (the user cancelled, or it failed).
        AccountNotLinked, ConsentRequired: see `account_for`.
    """
    if flow is None or flow.provider != provider.name or not state:
        raise OAuthStateInvalid
    if not hmac.compare_digest(flow.state.encode(), state.encode()):
        raise OAuthStateInvalid
    if not deps.store.take_oauth_state(state_hash(state), provider.name, now=now):
        raise OAuthStateInvalid
    if error:
        raise OAuthDenied(provider.name, error)
    if not code:
        raise OAuthDenied(provider.name, "missing_code")
    identity = provider.identity(
        code=code, redirect_uri=redirect_uri, code_verifier=flow.code_verifier, nonce=flow.nonce, now=now
    )
    return account_for(deps, identity, flow=flow, now=now)


def account_for(deps: AccountDeps, identity: ProviderIdentity, *, flow: OAuthFlow, now: datetime) -> UserProfile:
    """The account `identity` signs in to: its linked one, a verified-email match (now linked), or a new one.

    Raises:
        BadRequest: the provider shared no usable e-mail address (`oauth_email_missing`).
        AccountNotLinked: an account has the address, but one side has not verified it.
        ConsentRequired: a new account would be created without the age attestation and the terms.
    """
    linked = deps.store.user_id_for_identity(identity.provider, identity.subject)
    profile = deps.store.get_user(linked) if linked else None
    if profile is not None:
        return profile
    try:
        email = normalise_email(identity.email or "")
    except ValueError:
        raise BadRequest(
            f"{identity.provider.capitalize()} did not share a usable e-mail address; allow it and try again.",
            code="oauth_email_missing",
        ) from None
    existing_id = deps.store.user_id_for_email(email)
    existing = deps.store.get_user(existing_id) if existing_id else None
    if existing is not None:
        if not (identity.email_verified and existing.email_verified):
            raise AccountNotLinked
        try:
            linked_profile = deps.store.link_identity(existing.user_id, identity.provider, identity.subject, now=now)
        except Conflict:
            raise AccountNotLinked from None
        deps.mailer.send(
            emails.new_sign_in_method(
                existing.email, existing.name, provider=identity.provider, web_origin=deps.web_origin
            )
        )
        return linked_profile
    if not (flow.age_confirmed and flow.accept_terms):
        raise ConsentRequired
    try:
        name = clean_name((identity.name or email.split("@", 1)[0])[:100])
    except ValueError:
        name = email.split("@", 1)[0]
    profile = UserProfile(
        user_id=deps.new_id(),
        email=email,
        email_verified=identity.email_verified,
        password_hash=None,
        name=name,
        avatar_url=identity.avatar_url,
        timezone=flow.timezone or DEFAULT_TIMEZONE,
        session_version=1,
        providers=(identity.provider,),
        created_at=now,
        updated_at=now,
        age_attested_at=now,
        terms_accepted_at=now,
        policy_version=deps.policy_version,
    )
    try:
        deps.store.create_user(profile, identity=(identity.provider, identity.subject))
    except EmailTaken:
        raise AccountNotLinked from None
    if not profile.email_verified:
        send_token(deps, profile, Purpose.VERIFY_EMAIL, now=now, to=profile.email)
    return profile

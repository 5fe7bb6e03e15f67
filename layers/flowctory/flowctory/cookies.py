"""The cookies of the privacy policy's §10 table: the only cookies Flowctory ever sets (promises P27-P30).

Each cookie is HttpOnly, SameSite=Lax, Path=/ and never has a Domain. In production (the web
origin is https) the auth cookies take the `__Secure-` prefix and the others `__Host-` (the CSRF
cookie is `__Host-` too, as in Auth.js), all with Secure; in the sandbox (plain http on localhost)
the same names go without prefix or Secure, which browsers would refuse there. The deployment's
web origin decides which, never the request.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

OAUTH_FLOW_SECONDS = 600


@dataclass(frozen=True)
class CookieSpec:
    """One row of the policy's cookie table."""

    name: str
    purpose: str
    max_age: int | None  # seconds; None is a session cookie (gone when the browser closes)
    production_prefix: Literal["__Secure-", "__Host-"]

    def cookie_name(self, *, secure: bool) -> str:
        return f"{self.production_prefix}{self.name}" if secure else self.name


SESSION = CookieSpec("authjs.session-token", "Keeps you signed in (signed JWT)", 30 * 60, "__Secure-")
CSRF = CookieSpec("authjs.csrf-token", "CSRF protection for authentication", None, "__Host-")
CALLBACK_URL = CookieSpec("authjs.callback-url", "OAuth redirect handling (Google, Facebook)", None, "__Secure-")
PENDING_CONNECTION = CookieSpec(
    "flowctory_pending_connection", "Temporary storage while connecting TikTok", OAUTH_FLOW_SECONDS, "__Host-"
)
TIKTOK_OAUTH_STATE = CookieSpec("tiktok_oauth_state", "CSRF protection for TikTok OAuth", OAUTH_FLOW_SECONDS, "__Host-")
TIKTOK_CODE_VERIFIER = CookieSpec(
    "tiktok_code_verifier", "PKCE code verifier for TikTok OAuth", OAUTH_FLOW_SECONDS, "__Host-"
)

POLICY_TABLE: tuple[CookieSpec, ...] = (
    SESSION,
    CSRF,
    CALLBACK_URL,
    PENDING_CONNECTION,
    TIKTOK_OAUTH_STATE,
    TIKTOK_CODE_VERIFIER,
)
AUTH_COOKIES: tuple[CookieSpec, ...] = (SESSION, CSRF, CALLBACK_URL)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def set_cookie(spec: CookieSpec, value: str, *, secure: bool, max_age: int | None = None) -> Cookie:
    """A Set-Cookie for `spec`; `max_age` may only shorten the policy's lifetime (e.g. a session near its cap)."""
    lifetime = spec.max_age if max_age is None or spec.max_age is None else min(max_age, spec.max_age)
    return Cookie(
        name=spec.cookie_name(secure=secure),
        value=value,
        path="/",
        secure=secure,
        http_only=True,
        max_age=lifetime,
        same_site=SameSite.LAX_MODE,
    )


def clear_cookie(spec: CookieSpec, *, secure: bool) -> Cookie:
    """A Set-Cookie that makes the browser drop `spec` at once."""
    return Cookie(
        name=spec.cookie_name(secure=secure),
        value="",
        path="/",
        secure=secure,
        http_only=True,
        max_age=0,
        expires=_EPOCH,
        same_site=SameSite.LAX_MODE,
    )


def read_cookie(cookies: Iterable[str] | None, spec: CookieSpec, *, secure: bool) -> str | None:
    """The value of `spec` among the request's cookies ("name=value" strings, as API Gateway passes them).

    Only the name of the current stage counts: in production an unprefixed `authjs.session-token`,
    which any subdomain could have planted, is ignored.
    """
    wanted = spec.cookie_name(secure=secure)
    for cookie in cookies or ():
        name, separator, value = cookie.strip().partition("=")
        if separator and name.strip() == wanted:
            return value.strip() or None
    return None

"""Signed-in sessions for every HTTP function: the session JWT, its sliding expiry, CSRF and Origin checks.

A function serving signed-in users calls `install(app, wiring.sessions)` once; its routes then call
`current_session(app)`. On every request the guard:

- verifies the session cookie: an HS256 JWT (joserfc, algorithm pinned, `typ` session+jwt) whose
  `exp`, `iat`, absolute `auth_time` limit and session version are checked, then the user's
  profile and the ended-session list (logout) are read;
- refuses an unsafe method (POST, PUT, PATCH, DELETE) unless the `X-CSRF-Token` header equals the
  CSRF cookie and that token is an HMAC bound to the current session (or to "anonymous" before
  sign-in), and unless a present `Origin` is the web origin;
- slides the session: the response carries a re-signed cookie expiring 30 minutes from now, never
  past `auth_time` + 12 hours; a cookie that no longer verifies is cleared.

joserfc is imported only when a token is signed or verified, so that importing a handler stays
cheap (cold starts are benchmarked).
"""

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.shared.cookies import Cookie

from flowctory import cookies
from flowctory.clock import Clock
from flowctory.errors import Forbidden, Unauthenticated
from flowctory.observability import logger

if TYPE_CHECKING:
    from joserfc.jwt import ClaimsOption

IDLE_LIFETIME = timedelta(minutes=30)
ABSOLUTE_LIFETIME = timedelta(hours=12)
# Changing the e-mail without a password, or deleting the account, needs a sign-in this recent.
REAUTHENTICATION_WINDOW = timedelta(minutes=10)
LEEWAY_SECONDS = 10
ISSUER = "flowctory"
SESSION_AUDIENCE = "flowctory-session"
SESSION_TYPE = "session+jwt"
ANONYMOUS = "anonymous"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"

_CONTEXT_SESSION = "flowctory.session"
_CONTEXT_COOKIES = "flowctory.response_cookies"


class InvalidSession(Unauthenticated):
    code = "session_invalid"

    def __init__(self) -> None:
        super().__init__("Your session has ended. Please sign in again.")


# --- keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivedKey:
    kid: str
    secret: bytes


@dataclass(frozen=True)
class KeyRing:
    """Keys derived from the session secret, one per purpose, so a CSRF or OAuth-state key can never
    verify a session. The current secret comes first; a previous one (rotation) only verifies."""

    secrets: tuple[bytes, ...]

    @classmethod
    def from_strings(cls, values: Iterable[str]) -> "KeyRing":
        ring = tuple(value.encode() for value in values if value)
        if not ring:
            raise ValueError("a key ring needs at least one secret")
        return cls(secrets=ring)

    def keys(self, purpose: str) -> list[DerivedKey]:
        derived = [
            hmac.new(secret, f"flowctory:{purpose}".encode(), hashlib.sha256).digest() for secret in self.secrets
        ]
        return [DerivedKey(kid=hashlib.sha256(key).hexdigest()[:16], secret=key) for key in derived]

    def current(self, purpose: str) -> DerivedKey:
        return self.keys(purpose)[0]


# --- the session token ------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A verified session: who, and until when."""

    user_id: str
    email: str
    timezone: str
    tiktok_connected: bool
    session_id: str
    version: int
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime

    @property
    def absolute_expires_at(self) -> datetime:
        return self.auth_time + ABSOLUTE_LIFETIME


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def encode_session(ring: KeyRing, session: Session) -> str:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    key = ring.current("session-jwt")
    claims = {
        "iss": ISSUER,
        "aud": SESSION_AUDIENCE,
        "sub": session.user_id,
        "email": session.email,
        "tz": session.timezone,
        "tiktok": session.tiktok_connected,
        "sv": session.version,
        "jti": session.session_id,
        "iat": _epoch(session.issued_at),
        "exp": _epoch(session.expires_at),
        "auth_time": _epoch(session.auth_time),
    }
    header = {"alg": "HS256", "typ": SESSION_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, OctKey.import_key(key.secret), algorithms=["HS256"])


def decode_session(ring: KeyRing, token: str, *, now: datetime) -> Session:
    """The session a cookie carries, if its signature, type, audience and times all hold.

    Raises:
        InvalidSession: anything else (malformed, `none` or another algorithm, wrong key, expired,
            issued in the future, past the absolute limit, another kind of token).
    """
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet, OctKey

    key_set = KeySet([OctKey.import_key(key.secret, {"kid": key.kid}) for key in ring.keys("session-jwt")])
    essential: ClaimsOption = {"essential": True}
    registry = jwt.JWTClaimsRegistry(
        now=_epoch(now),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": SESSION_AUDIENCE},
        sub=essential,
        jti=essential,
        iat=essential,
        exp=essential,
        auth_time=essential,
        sv=essential,
        email=essential,
        tz=essential,
    )
    try:
        decoded = jwt.decode(token, key_set, algorithms=["HS256"])
        if decoded.header.get("typ") != SESSION_TYPE:
            raise InvalidSession
        registry.validate(decoded.claims)
        claims = decoded.claims
        auth_time = _from_epoch(claims["auth_time"])
        session = Session(
            user_id=str(claims["sub"]),
            email=str(claims["email"]),
            timezone=str(claims["tz"]),
            tiktok_connected=bool(claims.get("tiktok", False)),
            session_id=str(claims["jti"]),
            version=int(claims["sv"]),
            auth_time=auth_time,
            issued_at=_from_epoch(claims["iat"]),
            expires_at=_from_epoch(claims["exp"]),
        )
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidSession from None
    leeway = timedelta(seconds=LEEWAY_SECONDS)
    if session.auth_time > now + leeway or now >= session.absolute_expires_at:
        raise InvalidSession
    return session


# --- sealed values (short-lived, encrypted cookie contents) ----------------------------------


class InvalidSeal(Exception):
    """A sealed value did not decrypt, was for another purpose, or has expired."""


def seal(ring: KeyRing, purpose: str, payload: Mapping[str, Any], *, now: datetime, lifetime: timedelta) -> str:
    """Encrypt `payload` (JWE, dir + A256GCM) with the key of `purpose`, valid for `lifetime`: for values a
    browser must carry but neither read nor change, such as an OAuth flow's state and PKCE verifier."""
    from joserfc import jwe
    from joserfc.jwk import OctKey

    key = ring.current(f"sealed:{purpose}")
    content = {"purpose": purpose, "exp": _epoch(now + lifetime), "data": dict(payload)}
    header = {"alg": "dir", "enc": "A256GCM", "kid": key.kid}
    return jwe.encrypt_compact(header, json.dumps(content, separators=(",", ":")), OctKey.import_key(key.secret))


def unseal(ring: KeyRing, purpose: str, value: str, *, now: datetime) -> dict[str, Any]:
    """Raises:
    InvalidSeal: see the class.
    """
    from joserfc import jwe
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet, OctKey

    keys = KeySet([OctKey.import_key(key.secret, {"kid": key.kid}) for key in ring.keys(f"sealed:{purpose}")])
    try:
        content = json.loads(jwe.decrypt_compact(value, keys, algorithms=["dir", "A256GCM"]).plaintext or b"")
    except (JoseError, ValueError, TypeError):
        raise InvalidSeal from None
    if not isinstance(content, dict) or content.get("purpose") != purpose or not isinstance(content.get("data"), dict):
        raise InvalidSeal
    if not isinstance(content.get("exp"), int) or content["exp"] <= _epoch(now):
        raise InvalidSeal
    data: dict[str, Any] = content["data"]
    return data


# --- CSRF -------------------------------------------------------------------------------------


def _csrf_signature(key: bytes, binding: str, nonce: str) -> str:
    digest = hmac.new(key, f"{binding}!{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_csrf_token(ring: KeyRing, binding: str) -> str:
    """A signed double-submit token bound to `binding` (the session id, or ANONYMOUS before sign-in)."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_csrf_signature(ring.current('csrf').secret, binding, nonce)}"


def csrf_token_valid(ring: KeyRing, binding: str, token: str | None) -> bool:
    if not token or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return any(hmac.compare_digest(_csrf_signature(key.secret, binding, nonce), signature) for key in ring.keys("csrf"))


# --- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionUser:
    """What the table says now about a session's user."""

    email: str
    timezone: str
    session_version: int
    tiktok_connected: bool


class SessionStore(Protocol):
    def session_user(self, user_id: str, session_id: str) -> SessionUser | None:
        """The user behind a session, or None if the user is gone or this session was ended."""
        ...


@dataclass
class SessionService:
    """Everything a function needs to verify, slide and issue sessions. `clock` is injectable (tests
    freeze it); `secure_cookies` comes from the deployment's web origin, never from the request."""

    keys: Callable[[], KeyRing]
    store: SessionStore
    clock: Clock
    secure_cookies: bool
    allowed_origins: frozenset[str]

    def start(
        self,
        *,
        user_id: str,
        email: str,
        timezone: str,
        tiktok_connected: bool,
        version: int,
        auth_time: datetime | None = None,
    ) -> Session:
        """A new session (new id): sign-in, sign-up. `auth_time` carries over when a session is re-issued."""
        now = self.clock()
        started = auth_time or now
        return Session(
            user_id=user_id,
            email=email,
            timezone=timezone,
            tiktok_connected=tiktok_connected,
            session_id=secrets.token_urlsafe(16),
            version=version,
            auth_time=started,
            issued_at=now,
            expires_at=min(now + IDLE_LIFETIME, started + ABSOLUTE_LIFETIME),
        )

    def authenticate(self, token: str) -> Session:
        """The session of `token`, refreshed from the table and slid to expire 30 minutes from now.

        Raises:
            InvalidSession: the token does not verify, the user is gone, the session was ended, or
                the password changed since (the session version moved on).
        """
        now = self.clock()
        session = decode_session(self.keys(), token, now=now)
        user = self.store.session_user(session.user_id, session.session_id)
        if user is None or user.session_version != session.version:
            raise InvalidSession
        return replace(
            session,
            email=user.email,
            timezone=user.timezone,
            tiktok_connected=user.tiktok_connected,
            issued_at=now,
            expires_at=min(now + IDLE_LIFETIME, session.absolute_expires_at),
        )

    def session_cookie(self, session: Session) -> Cookie:
        remaining = int((session.expires_at - self.clock()).total_seconds())
        token = encode_session(self.keys(), session)
        return cookies.set_cookie(cookies.SESSION, token, secure=self.secure_cookies, max_age=max(remaining, 0))

    def csrf_binding(self, session: Session | None) -> str:
        return session.session_id if session is not None else ANONYMOUS

    def new_csrf(self, session: Session | None) -> tuple[str, Cookie]:
        """A fresh CSRF token for `session` and the cookie that carries it."""
        token = new_csrf_token(self.keys(), self.csrf_binding(session))
        return token, cookies.set_cookie(cookies.CSRF, token, secure=self.secure_cookies)

    def csrf_valid(self, session: Session | None, token: str | None) -> bool:
        return csrf_token_valid(self.keys(), self.csrf_binding(session), token)

    def check_unsafe_request(
        self, *, session: Session | None, request_cookies: list[str], headers: Mapping[str, str]
    ) -> None:
        """Origin and double-submit CSRF checks for a state-changing request.

        Raises:
            Forbidden: a foreign Origin, a cross-site fetch, or a missing, mismatched or unbound token.
        """
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.allowed_origins:
            raise Forbidden("This request did not come from the Flowctory app.", code="origin_not_allowed")
        if headers.get("sec-fetch-site") == "cross-site":
            raise Forbidden("This request did not come from the Flowctory app.", code="origin_not_allowed")
        cookie_token = cookies.read_cookie(request_cookies, cookies.CSRF, secure=self.secure_cookies)
        header_token = headers.get(CSRF_HEADER)
        if (
            cookie_token is None
            or header_token is None
            or not hmac.compare_digest(cookie_token.encode(), header_token.encode())
            or not self.csrf_valid(session, cookie_token)
        ):
            raise Forbidden(
                "The security token of this request is missing or out of date. Reload the page and try again.",
                code="csrf_failed",
            )


# --- resolver glue ----------------------------------------------------------------------------


def request_cookies(router: BaseRouter) -> list[str]:
    """The request's cookies ("name=value"), as API Gateway's payload v2 passes them."""
    return [str(cookie) for cookie in router.current_event.raw_event.get("cookies") or []]


def install(app: ApiGatewayResolver, service: Callable[[], SessionService]) -> None:
    """Guard every route of `app`: verify and slide the session, check CSRF and Origin on unsafe methods."""

    def session_guard(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
        sessions = service()
        event = app.current_event
        cookies_sent = request_cookies(app)
        headers = {name.lower(): value for name, value in (event.headers or {}).items()}
        token = cookies.read_cookie(cookies_sent, cookies.SESSION, secure=sessions.secure_cookies)
        session: Session | None = None
        if token is not None:
            try:
                session = sessions.authenticate(token)
            except InvalidSession:
                logger.info("session cookie refused")
        app.context[_CONTEXT_SESSION] = session
        app.context[_CONTEXT_COOKIES] = []
        if session is not None:
            logger.append_keys(user_id=session.user_id)
        if event.http_method.upper() in UNSAFE_METHODS:
            sessions.check_unsafe_request(session=session, request_cookies=cookies_sent, headers=headers)
        response = next_middleware(app)
        response.cookies.extend(app.context.get(_CONTEXT_COOKIES, []))
        session_name = cookies.SESSION.cookie_name(secure=sessions.secure_cookies)
        if all(cookie.name != session_name for cookie in response.cookies):
            current: Session | None = app.context.get(_CONTEXT_SESSION)  # a route may have corrected it
            if current is not None:
                response.cookies.append(sessions.session_cookie(current))
            elif token is not None:
                response.cookies.append(cookies.clear_cookie(cookies.SESSION, secure=sessions.secure_cookies))
        return response

    app.use(middlewares=[session_guard])


def optional_session(app: BaseRouter) -> Session | None:
    """The request's verified session, or None when nobody is signed in."""
    session: Session | None = app.context.get(_CONTEXT_SESSION)
    return session


def current_session(app: BaseRouter) -> Session:
    """The request's verified session.

    Raises:
        Unauthenticated: nobody is signed in (or the session has ended).
    """
    session = optional_session(app)
    if session is None:
        raise Unauthenticated("Please sign in.", code="unauthenticated")
    return session


def respond_with_cookies(app: BaseRouter, *new_cookies: Cookie) -> None:
    """Queue Set-Cookies for the response of this request (a session cookie queued here replaces the slide)."""
    app.context.setdefault(_CONTEXT_COOKIES, []).extend(new_cookies)


def replace_session(app: BaseRouter, session: Session | None) -> None:
    """Make `session` the request's session from here on (after sign-in, or None after sign-out)."""
    app.context[_CONTEXT_SESSION] = session

"""Unit tests of the account rules: passwords, tokens, redirects, session JWTs, CSRF, sealed values, limits."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher as RawArgon2

from flowctory.domain import ratelimits, redirects, tokens
from flowctory.domain.accounts import AccountDeps, request_password_reset
from flowctory.domain.passwords import Argon2Hasher, WeakPassword, check_new_password
from flowctory.domain.ratelimits import Failures, RateLimiter, TooManyAttempts
from flowctory.sessions import (
    ABSOLUTE_LIFETIME,
    InvalidSession,
    KeyRing,
    Session,
    csrf_token_valid,
    decode_session,
    encode_session,
    new_csrf_token,
    seal,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
RING = KeyRing.from_strings(["current-secret-0123456789"])
ORIGIN = "https://app.example.com"


def session(**overrides) -> Session:
    values = {
        "user_id": "u1",
        "email": "ada@example.com",
        "timezone": "Europe/Paris",
        "tiktok_connected": False,
        "session_id": "s1",
        "version": 1,
        "auth_time": NOW,
        "issued_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
    }
    return Session(**{**values, **overrides})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- passwords (security §1) ---


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("password1", "password_too_common"),
        ("Baseball", "password_too_common"),
        ("ada@example.com", "password_too_common"),
    ],
)
def test_weak_passwords_are_refused_with_a_stable_code(password, code):
    with pytest.raises(WeakPassword) as refused:
        check_new_password(password, email="ada@example.com")
    assert refused.value.code == code


def test_no_composition_rules_and_long_passphrases_pass():
    check_new_password("all lower case words here")
    check_new_password("é" * 128)


def test_p01_hash_is_argon2id_with_owasp_parameters_and_not_truncated():
    # Given a 100-character password hashed by the production hasher
    hasher = Argon2Hasher()
    password = "p" * 99 + "!"
    stored = hasher.hash(password)

    # Then it is argon2id with m >= 19 MiB and t >= 2, and verifies exactly that password
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password not in stored
    assert hasher.verify(stored, password)
    assert not hasher.verify(stored, password[:72])
    assert not hasher.needs_rehash(stored)


def test_a_hash_with_weaker_parameters_needs_rehashing():
    weak = RawArgon2(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert Argon2Hasher().needs_rehash(weak)


# --- tokens (security §4) ---


def test_tokens_are_random_hashed_and_keep_their_purpose():
    issued = tokens.issue(tokens.Purpose.RESET_PASSWORD, "u1")
    parsed = tokens.parse(issued.token)
    assert parsed is not None
    assert parsed.purpose is tokens.Purpose.RESET_PASSWORD
    assert parsed.token_hash == issued.token_hash
    assert issued.token.split(".")[-1] not in issued.token_hash
    assert tokens.issue(tokens.Purpose.RESET_PASSWORD, "u1").token != issued.token
    assert tokens.parse("r.u1.short") is None
    assert tokens.parse("x." + issued.token[2:]) is None


# --- open redirects (security §9) ---

REFUSED = [
    "//evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "https://evil.com",
    "http://app.example.com",
    "https://app.example.com.evil.com",
    "https://app.example.com@evil.com",
    "javascript:alert(1)",
    "%2F%2Fevil.com",
    "/%09/evil.com",
    "/%2F/evil.com",
    "/%252F%252Fevil.com",
    "\t//evil.com",
    "https:evil.com",
    "/ /evil.com",
    "data:text/html,hi",
]


@pytest.mark.parametrize("value", REFUSED)
def test_callback_urls_off_the_app_are_refused(value):
    with pytest.raises(redirects.InvalidCallbackUrl):
        redirects.safe_callback_url(value, web_origin=ORIGIN)
    assert redirects.callback_url_or_default(value, web_origin=ORIGIN) == ORIGIN + "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dashboard?x=1#y", ORIGIN + "/dashboard?x=1#y"),
        ("https://app.example.com/settings", ORIGIN + "/settings"),
        ("https://APP.example.com", ORIGIN + "/"),
        ("/", ORIGIN + "/"),
    ],
)
def test_callback_urls_on_the_app_are_kept(value, expected):
    assert redirects.safe_callback_url(value, web_origin=ORIGIN) == expected
    assert redirects.callback_url_or_default(value, web_origin=ORIGIN) == expected


# --- the session JWT (security §10) ---


def test_a_signed_session_round_trips():
    token = encode_session(RING, session())
    decoded = decode_session(RING, token, now=NOW + timedelta(minutes=29))
    assert decoded == session()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    assert header["typ"] == "session+jwt"


def _forged(header: dict, claims: dict, signature: str = "") -> str:
    return f"{b64(header)}.{b64(claims)}.{signature}"


def _claims(**overrides) -> dict:
    token = encode_session(RING, session())
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return {**claims, **overrides}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: _forged({"alg": "none", "typ": "session+jwt"}, _claims()), id="alg-none"),
        pytest.param(lambda: encode_session(KeyRing.from_strings(["another-secret"]), session()), id="wrong-key"),
        pytest.param(lambda: encode_session(RING, session(expires_at=NOW - timedelta(minutes=1))), id="expired"),
        pytest.param(
            lambda: encode_session(
                RING, session(issued_at=NOW + timedelta(hours=1), expires_at=NOW + timedelta(hours=2))
            ),
            id="issued-in-the-future",
        ),
        pytest.param(
            lambda: encode_session(
                RING,
                session(auth_time=NOW - ABSOLUTE_LIFETIME, issued_at=NOW, expires_at=NOW + timedelta(minutes=30)),
            ),
            id="past-absolute-limit",
        ),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: seal(RING, "session-jwt", {"sub": "u1"}, now=NOW, lifetime=timedelta(hours=1)), id="jwe"),
        pytest.param(lambda: _hs256_token({"typ": "JWT"}, _claims()), id="another-typ"),
        pytest.param(lambda: _hs256_token({"typ": "session+jwt"}, _claims(aud="other")), id="wrong-aud"),
        pytest.param(lambda: _hs256_token({"typ": "session+jwt"}, _claims(iss="other")), id="wrong-iss"),
        pytest.param(
            lambda: _hs256_token({"typ": "session+jwt"}, {k: v for k, v in _claims().items() if k != "auth_time"}),
            id="no-auth-time",
        ),
        pytest.param(lambda: _hs256_token({"typ": "session+jwt"}, _claims(), purpose="csrf"), id="csrf-key"),
    ],
)
def test_sessions_that_must_not_verify(token):
    with pytest.raises(InvalidSession):
        decode_session(RING, token(), now=NOW)


def _hs256_token(header: dict, claims: dict, *, purpose: str = "session-jwt") -> str:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    key = RING.current(purpose)
    return jwt.encode({"alg": "HS256", "kid": key.kid, **header}, claims, OctKey.import_key(key.secret))


def test_a_rotated_key_still_verifies_until_the_previous_version_is_gone():
    # Given a session signed before a rotation
    old_ring = KeyRing.from_strings(["old-secret"])
    token = encode_session(old_ring, session())

    # Then it verifies while the old secret is the previous version, and not after
    assert decode_session(KeyRing.from_strings(["new-secret", "old-secret"]), token, now=NOW).user_id == "u1"
    with pytest.raises(InvalidSession):
        decode_session(KeyRing.from_strings(["new-secret"]), token, now=NOW)


# --- CSRF (security §7) ---


def test_csrf_tokens_are_bound_to_their_session():
    token = new_csrf_token(RING, "session-a")
    assert csrf_token_valid(RING, "session-a", token)
    assert not csrf_token_valid(RING, "session-b", token)
    assert not csrf_token_valid(RING, "anonymous", token)
    assert not csrf_token_valid(RING, "session-a", "attacker.chosen")
    assert not csrf_token_valid(KeyRing.from_strings(["other"]), "session-a", token)


# --- limits (security §2) ---


class MemoryCounters:
    """In-memory CounterStore."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, str, datetime], int] = {}
        self.failed: dict[tuple[str, str], Failures] = {}

    def hit(self, kind, key, *, window_start, expires_at) -> int:
        self.hits[(kind, key, window_start)] = self.hits.get((kind, key, window_start), 0) + 1
        return self.hits[(kind, key, window_start)]

    def failures(self, kind, key):
        return self.failed.get((kind, key))

    def add_failure(self, kind, key, *, now, expires_at):
        previous = self.failed.get((kind, key))
        self.failed[(kind, key)] = Failures(count=(previous.count if previous else 0) + 1, last_at=now)
        return self.failed[(kind, key)]

    def clear_failures(self, kind, key) -> None:
        self.failed.pop((kind, key), None)


def test_login_delay_doubles_after_five_failures_up_to_a_lock():
    assert ratelimits.login_delay(4) == timedelta(0)
    assert ratelimits.login_delay(5) == timedelta(seconds=30)
    assert ratelimits.login_delay(6) == timedelta(seconds=60)
    assert ratelimits.login_delay(20) == ratelimits.MAX_DELAY


def test_an_account_waits_after_failures_and_is_forgotten_later():
    limiter = RateLimiter(MemoryCounters())
    for _ in range(5):
        limiter.check_login("ada@example.com", now=NOW)
        limiter.login_failed("ada@example.com", now=NOW)
    with pytest.raises(TooManyAttempts) as waiting:
        limiter.check_login("ADA@example.com ", now=NOW + timedelta(seconds=10))
    assert waiting.value.retry_after == 20
    limiter.check_login("ada@example.com", now=NOW + timedelta(seconds=31))


class NoAccounts:
    def user_id_for_email(self, email):
        return None

    def get_user(self, user_id):
        return None


def test_a_reset_request_for_an_unknown_address_takes_the_same_minimum_time():
    # Given a clock that a fake sleep moves
    elapsed = [0.0]
    deps = AccountDeps(
        store=NoAccounts(),  # type: ignore[arg-type]
        hasher=Argon2Hasher(),
        mailer=None,  # type: ignore[arg-type]
        limiter=RateLimiter(MemoryCounters()),
        web_origin=ORIGIN,
        policy_version="v1",
        monotonic=lambda: elapsed[0],
        sleep=lambda seconds: elapsed.__setitem__(0, elapsed[0] + seconds),
        reset_request_min_seconds=0.35,
    )

    # When a reset is requested for an address nobody has
    request_password_reset(deps, "nobody@example.com", now=NOW, source_ip="198.51.100.1")

    # Then the answer waited for the floor, as a real sending would have taken
    assert elapsed[0] == pytest.approx(0.35)
    assert time.monotonic() > 0

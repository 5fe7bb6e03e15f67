"""The auth function end to end on moto: sign-up, verification, sign-in, sessions, passwords, profile."""

import base64
import json
from datetime import timedelta

import pytest

from flowctory import wiring
from flowctory.cookies import POLICY_TABLE
from sandbox.template import http_routes, load_template
from tests.auth.conftest import LOCAL_ORIGIN, PRODUCTION_ORIGIN, STRONG_PASSWORD

POLICY_NAMES = {spec.name for spec in POLICY_TABLE}


def jwt_claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def all_items(table) -> list[dict]:
    return table.scan()["Items"]


def user_items(table) -> list[dict]:
    return [item for item in all_items(table) if not item["pk"].startswith("RATE#")]


def attributes(raw_cookie: str) -> dict[str, str]:
    parts = [part.strip() for part in raw_cookie.split(";")[1:]]
    return {part.split("=", 1)[0].lower(): (part.split("=", 1)[1] if "=" in part else "") for part in parts}


# --- the main path, with the exact cookie attributes of both stages (P02, P27, P28, P29) ---


def test_p02_p29_sign_up_verify_sign_in_session_sign_out_on_the_sandbox(browser, outbox):
    # Given a new user signing up on the sandbox (plain http)
    signed_up = browser.sign_up("ada@example.com")

    # Then the account is created and signed in, with unprefixed, HttpOnly, Lax cookies and no Secure
    assert signed_up.status == 201
    assert signed_up.body["user"]["email"] == "ada@example.com"
    assert signed_up.body["user"]["email_verified"] is False
    session_cookie = next(c for c in signed_up.set_cookies if c.startswith("authjs.session-token="))
    assert attributes(session_cookie) == {"path": "/", "max-age": "1800", "httponly": "", "samesite": "Lax"}
    csrf_cookie = next(c for c in signed_up.set_cookies if c.startswith("authjs.csrf-token="))
    assert attributes(csrf_cookie) == {"path": "/", "httponly": "", "samesite": "Lax"}
    assert signed_up.body["csrf_token"] == csrf_cookie.split("=", 1)[1].split(";")[0]

    # When the mailed link is used
    mail = outbox.last_to("ada@example.com")
    assert mail.link().startswith(LOCAL_ORIGIN + "/verify-email?token=")
    verified = browser.request("POST", "/auth/verify-email", json_body={"token": mail.token()})
    assert verified.status == 200 and verified.body == {"email": "ada@example.com", "email_verified": True}

    # And the user signs out, then in again
    signed_out = browser.request("POST", "/auth/logout")
    assert signed_out.status == 200
    assert set(signed_out.cookie_names) == POLICY_NAMES
    assert all("Max-Age=0" in raw for raw in signed_out.set_cookies)
    assert browser.request("GET", "/auth/session").status == 401
    signed_in = browser.log_in("ada@example.com")
    assert signed_in.status == 200

    # Then the session carries the user id, e-mail, timezone and TikTok status, and slides
    session = browser.request("GET", "/auth/session")
    assert session.status == 200
    assert session.body["user"]["email_verified"] is True
    claims = jwt_claims(browser.jar["authjs.session-token"])
    assert {claims["sub"], claims["email"], claims["tz"], claims["tiktok"]} == {
        signed_up.body["user"]["id"],
        "ada@example.com",
        "Europe/Paris",
        False,
    }
    assert claims["exp"] - claims["iat"] == 1800


def test_p28_production_cookies_are_prefixed_and_secure(production_env, new_browser):
    # Given the function served over https (production)
    browser = new_browser(PRODUCTION_ORIGIN)

    # When a user signs up, checks the session and signs out
    answers = [browser.sign_up("ada@example.com"), browser.request("GET", "/auth/session")]
    answers.append(browser.request("POST", "/auth/logout"))

    # Then auth cookies are __Secure-, the CSRF cookie __Host-, all Secure, Path=/, no Domain
    cookies = [raw for answer in answers for raw in answer.set_cookies]
    names = {raw.split("=", 1)[0] for raw in cookies}
    assert {"__Secure-authjs.session-token", "__Host-authjs.csrf-token", "__Secure-authjs.callback-url"} <= names
    assert all(name.startswith(("__Secure-", "__Host-")) for name in names)
    for raw in cookies:
        flags = attributes(raw)
        assert "secure" in flags and "httponly" in flags and flags["samesite"] == "Lax" and flags["path"] == "/"
        assert "domain" not in flags
    assert sum(len(raw) for raw in answers[0].set_cookies) < 4096


def test_p28_an_unprefixed_cookie_is_ignored_in_production(production_env, new_browser):
    browser = new_browser(PRODUCTION_ORIGIN)
    browser.sign_up("ada@example.com")
    token = browser.jar.pop("__Secure-authjs.session-token")

    # When the token comes under the unprefixed name a sibling subdomain could set
    browser.jar["authjs.session-token"] = token

    # Then it is not a session
    assert browser.request("GET", "/auth/session").status == 401


def test_p27_only_the_policy_cookies_with_their_lifetimes(browser):
    seen: list[str] = []
    for answer in (
        browser.request("GET", "/auth/csrf"),
        browser.sign_up("ada@example.com"),
        browser.request("GET", "/auth/session"),
        browser.request("PATCH", "/me", json_body={"name": "Ada King"}),
        browser.request("POST", "/auth/logout"),
        browser.log_in("ada@example.com"),
    ):
        seen.extend(answer.set_cookies)
    assert {raw.split("=", 1)[0] for raw in seen} <= POLICY_NAMES
    for raw in seen:
        name, flags = raw.split("=", 1)[0], attributes(raw)
        if "Max-Age=0" in raw:
            continue
        if name == "authjs.session-token":
            assert flags["max-age"] == "1800"
        else:
            assert "max-age" not in flags and "expires" not in flags  # session cookies


# --- sliding expiry with a frozen clock (P29, security §5) ---


def test_p29_the_session_slides_and_dies_after_30_idle_minutes(browser, auth_env):
    clock = auth_env
    browser.sign_up("ada@example.com")

    # Alive 29 minutes after the last activity, and the answer moves the expiry
    clock.advance(minutes=29)
    alive = browser.request("GET", "/me")
    assert alive.status == 200
    assert jwt_claims(browser.jar["authjs.session-token"])["exp"] == int(
        (clock.now + timedelta(minutes=30)).timestamp()
    )

    # Alive again 29 minutes later (58 minutes after sign-in)
    clock.advance(minutes=29)
    assert browser.request("GET", "/me").status == 200

    # Dead after 31 idle minutes (the browser has dropped the cookie by then; the server refuses it anyway)
    clock.advance(minutes=31)
    dead = browser.request("GET", "/me")
    assert (dead.status, dead.error_code) == (401, "unauthenticated")


def test_p29_activity_cannot_keep_a_session_past_12_hours(browser, auth_env):
    clock = auth_env
    browser.sign_up("ada@example.com")
    for _ in range(35):  # every 20 minutes for 11 h 40 min
        clock.advance(minutes=20)
        assert browser.request("GET", "/me").status == 200
    assert jwt_claims(browser.jar["authjs.session-token"])["exp"] <= int(
        (clock.now + timedelta(minutes=20)).timestamp()
    )
    clock.advance(minutes=20)
    assert browser.request("GET", "/me").status == 401


def test_a_signed_out_cookie_replayed_is_refused(browser, new_browser):
    browser.sign_up("ada@example.com")
    stolen = dict(browser.jar)
    assert browser.request("POST", "/auth/logout").status == 200
    replay = new_browser()
    replay.jar.update(stolen)
    assert replay.request("GET", "/me").status == 401


# --- profile content (P01), logs (P09), rectification (P23), age (P33), policy version (P34) ---


def test_p01_the_profile_holds_the_policy_fields_and_only_a_hash_of_the_password(browser, table, log_output):
    # When a user signs up, signs out and in again
    answers = [browser.sign_up("ada@example.com", "my very own passphrase")]
    answers.append(browser.request("POST", "/auth/logout"))
    answers.append(browser.log_in("ada@example.com", "my very own passphrase"))

    # Then the profile has exactly the policy's data, consents and security state
    profile = next(item for item in all_items(table) if item["sk"] == "PROFILE")
    assert set(profile) == {
        "pk", "sk", "user_id", "email", "email_verified", "password_hash", "name", "timezone", "session_version",
        "providers", "created_at", "updated_at", "age_attested_at", "terms_accepted_at", "policy_version",
    }  # fmt: skip
    assert profile["password_hash"].startswith("$argon2id$")

    # And the clear password is nowhere: table, responses, logs
    assert "my very own passphrase" not in json.dumps(all_items(table), default=str)
    assert all("my very own passphrase" not in json.dumps(answer.body) for answer in answers)
    assert "my very own passphrase" not in log_output.getvalue()


def test_p09_request_logs_carry_ip_and_user_agent_and_never_secrets(browser, outbox, log_output):
    # Given a browser at a known address
    browser.source_ip = "198.51.100.23"
    browser.user_agent = "Mozilla/5.0 (X11; Linux) Firefox/140.0"

    # When it signs up, verifies and resets its password
    browser.sign_up("ada@example.com", "my very own passphrase")
    token = outbox.last_to("ada@example.com").token()
    browser.request("POST", "/auth/verify-email", json_body={"token": token})
    browser.request("POST", "/auth/password/forgot", json_body={"email": "ada@example.com"})
    reset = outbox.last_to("ada@example.com").token()
    browser.request("POST", "/auth/password/reset", json_body={"token": reset, "password": "another good passphrase"})
    secrets_seen = [token, reset, "my very own passphrase", "another good passphrase", *browser.jar.values()]

    # Then every request line has the IP and user agent, and no secret appears
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    handled = [line for line in lines if line["message"] in ("request handled", "request refused")]
    assert len(handled) >= 5
    assert all(line["source_ip"] == "198.51.100.23" for line in handled)
    assert all(line["user_agent"] == "Mozilla/5.0 (X11; Linux) Firefox/140.0" for line in handled)
    log_text = json.dumps(lines)
    assert not [secret for secret in secrets_seen if secret and secret in log_text]


def test_p23_name_and_timezone_are_corrected_and_a_new_email_only_once_confirmed(browser, outbox, new_browser):
    browser.sign_up("ada@example.com")
    corrected = browser.request("PATCH", "/me", json_body={"name": "Ada King", "timezone": "America/New_York"})
    assert corrected.status == 200
    assert (corrected.body["name"], corrected.body["timezone"]) == ("Ada King", "America/New_York")
    assert jwt_claims(browser.jar["authjs.session-token"])["tz"] == "America/New_York"

    # An e-mail change needs the current password
    refused = browser.request("PATCH", "/me", json_body={"email": "ada@new.example"})
    assert refused.status == 403 and refused.error_code == "wrong_password"

    # With it, the change waits for confirmation from the new address; the old one is told
    pending = browser.request(
        "PATCH", "/me", json_body={"email": "ada@new.example", "current_password": STRONG_PASSWORD}
    )
    assert pending.status == 200
    assert (pending.body["email"], pending.body["pending_email"]) == ("ada@example.com", "ada@new.example")
    assert "change" in outbox.last_to("ada@example.com").subject
    confirm = outbox.last_to("ada@new.example")

    # When the link is opened (from any browser), the address switches
    other = new_browser()
    done = other.request("POST", "/auth/verify-email", json_body={"token": confirm.token()})
    assert done.status == 200 and done.body == {"email": "ada@new.example", "email_verified": True}
    assert browser.request("GET", "/me").body["email"] == "ada@new.example"
    assert other.log_in("ada@new.example").status == 200
    assert new_browser().log_in("ada@example.com").status == 401


def test_p33_sign_up_needs_the_age_attestation_and_asks_nothing_more(browser, table):
    refused = browser.sign_up("kid@example.com", age_confirmed=False)
    assert refused.status == 400 and refused.error_code == "age_not_confirmed"
    birth_date = browser.sign_up("kid@example.com", birth_date="2012-01-01")
    assert birth_date.status == 422
    assert user_items(table) == []

    accepted = browser.sign_up("adult@example.com")
    assert accepted.status == 201
    profile = next(item for item in all_items(table) if item["sk"] == "PROFILE")
    assert profile["age_attested_at"] == profile["created_at"]
    assert not {"birth_date", "age", "date_of_birth"} & set(profile)


def test_p34_the_accepted_policy_version_is_recorded_and_a_newer_one_flagged(browser, table, monkeypatch, auth_env):
    browser.sign_up("ada@example.com")
    assert next(i for i in all_items(table) if i["sk"] == "PROFILE")["policy_version"] == "2026-01-04"
    assert browser.request("GET", "/me").body["policy_update_required"] is False

    # When a newer policy is deployed
    monkeypatch.setenv("POLICY_VERSION", "2026-09-01")
    wiring.reset()
    wiring.sessions().clock = auth_env

    # Then the user is told, and accepting records the version and time
    assert browser.request("GET", "/me").body["policy_update_required"] is True
    auth_env.advance(minutes=1)
    accepted = browser.request("PATCH", "/me", json_body={"accept_policy": True})
    assert accepted.body["policy_update_required"] is False
    profile = next(i for i in all_items(table) if i["sk"] == "PROFILE")
    assert profile["policy_version"] == "2026-09-01"
    assert profile["terms_accepted_at"] > profile["created_at"]


# --- passwords: change (P12), reset (security §4) ---


def test_p12_a_password_change_ends_other_sessions_and_sends_a_security_email(browser, new_browser, outbox):
    browser.sign_up("ada@example.com")
    laptop = new_browser()
    assert laptop.log_in("ada@example.com").status == 200

    changed = browser.request(
        "POST",
        "/auth/password/change",
        json_body={"current_password": STRONG_PASSWORD, "new_password": "a brand new passphrase"},
    )

    assert changed.status == 200
    assert browser.request("GET", "/me").status == 200  # this session goes on
    assert laptop.request("GET", "/me").status == 401  # every other one ended
    assert "password changed" in outbox.last_to("ada@example.com").subject
    assert new_browser().log_in("ada@example.com", "a brand new passphrase").status == 200


def test_a_password_change_needs_the_current_password(browser, outbox):
    browser.sign_up("ada@example.com")
    wrong = browser.request(
        "POST", "/auth/password/change", json_body={"current_password": "not it at all", "new_password": "x" * 20}
    )
    assert wrong.status == 403 and wrong.error_code == "wrong_password"
    assert browser.request("GET", "/me").status == 200


def test_reset_links_are_single_use_hashed_expiring_and_end_every_session(
    browser, new_browser, outbox, table, auth_env
):
    browser.sign_up("ada@example.com")
    other = new_browser()

    # A reset link, asked with a spoofed Host, still points at the configured origin
    asked = other.request(
        "POST", "/auth/password/forgot", json_body={"email": "ada@example.com"}, headers={"host": "evil.example"}
    )
    assert asked.status == 202
    mail = outbox.last_to("ada@example.com")
    assert mail.link().startswith(LOCAL_ORIGIN + "/reset-password?token=")
    token = mail.token()

    # Only its SHA-256 is stored
    stored = next(item for item in all_items(table) if item["sk"] == "TOKEN#reset_password")
    assert token.split(".")[-1] not in json.dumps(stored, default=str)

    # A weak password is refused and the link stays usable
    weak = other.request("POST", "/auth/password/reset", json_body={"token": token, "password": "password1"})
    assert weak.status == 400 and weak.error_code == "password_too_common"

    # Used once: the password changes, every session ends, a security e-mail goes out
    done = other.request("POST", "/auth/password/reset", json_body={"token": token, "password": "fresh passphrase!"})
    assert done.status == 200
    assert done.headers["referrer-policy"] == "no-referrer"
    assert browser.request("GET", "/me").status == 401
    assert "password changed" in outbox.last_to("ada@example.com").subject

    # Not twice
    again = other.request("POST", "/auth/password/reset", json_body={"token": token, "password": "yet another one!"})
    assert again.status == 400 and again.error_code == "invalid_token"
    assert new_browser().log_in("ada@example.com", "fresh passphrase!").status == 200


def test_reset_links_expire_and_tokens_keep_their_purpose(browser, new_browser, outbox, auth_env):
    browser.sign_up("ada@example.com")
    verification = outbox.last_to("ada@example.com").token()

    # A verification token cannot reset a password
    wrong_kind = browser.request(
        "POST", "/auth/password/reset", json_body={"token": verification, "password": "fresh passphrase!"}
    )
    assert wrong_kind.status == 400 and wrong_kind.error_code == "invalid_token"

    # A reset link is dead after 30 minutes
    browser.request("POST", "/auth/password/forgot", json_body={"email": "ada@example.com"})
    token = outbox.last_to("ada@example.com").token()
    auth_env.advance(minutes=31)
    other = new_browser()
    late = other.request("POST", "/auth/password/reset", json_body={"token": token, "password": "fresh passphrase!"})
    assert late.status == 400 and late.error_code == "invalid_token"

    # A tampered token too
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    bad = other.request("POST", "/auth/verify-email", json_body={"token": tampered})
    assert bad.status == 400 and bad.error_code == "invalid_token"


# --- abuse: lockout, per-IP limit, no enumeration (security §2, §3) ---


def test_repeated_failures_slow_down_then_lock_the_account_whatever_the_ip(browser, new_browser, auth_env):
    browser.sign_up("ada@example.com")
    attacker = new_browser()

    # Five failures from five addresses
    for n in range(5):
        assert attacker.log_in("ada@example.com", f"guess number {n}", source_ip=f"192.0.2.{n}").status == 401

    # The sixth attempt, even with the right password, waits
    throttled = attacker.log_in("ada@example.com", "guess number 6", source_ip="192.0.2.6")
    assert throttled.status == 429 and int(throttled.headers["retry-after"]) > 0
    right = new_browser().log_in("ada@example.com", source_ip="192.0.2.7")
    assert right.status == 429

    # After the window the right password works and the counter starts again
    auth_env.advance(minutes=16)
    assert new_browser().log_in("ada@example.com").status == 200
    assert attacker.log_in("ada@example.com", "guess again!", source_ip="192.0.2.8").status == 401


def test_one_ip_is_limited_across_accounts(browser):
    answers = [browser.log_in(f"user{n}@example.com", "whatever password") for n in range(21)]
    assert {answer.status for answer in answers[:20]} == {401}
    assert answers[20].status == 429
    assert 0 < int(answers[20].headers["retry-after"]) <= 60


@pytest.fixture
def population(browser, new_browser, outbox, auth_env):
    """An existing verified account, an unverified one and a locked one."""
    verified = new_browser()
    verified.sign_up("known@example.com")
    verified.request("POST", "/auth/verify-email", json_body={"token": outbox.last_to("known@example.com").token()})
    new_browser().sign_up("unverified@example.com")
    new_browser().sign_up("locked@example.com")
    for n in range(5):
        new_browser().log_in("locked@example.com", f"wrong {n}", source_ip=f"192.0.2.{n}")
    return auth_env


class CountingArgon2:
    """argon2's PasswordHasher, counting verifications."""

    def __init__(self, real) -> None:
        self._real = real
        self.calls: list[str] = []

    def verify(self, *args):
        self.calls.append("verify")
        return self._real.verify(*args)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("email", ["known@example.com", "nobody@example.com", "unverified@example.com"])
def test_a_failed_sign_in_looks_the_same_for_every_account_and_hashes_once(population, new_browser, email, monkeypatch):
    # Given a spy on argon2's verification
    hasher = wiring.accounts().hasher
    spy = CountingArgon2(hasher._hasher)  # type: ignore[attr-defined]
    monkeypatch.setattr(hasher, "_hasher", spy)
    calls = spy.calls

    # When a wrong password is tried
    answer = new_browser().log_in(email, "not the password")

    # Then the answer is the generic one, and exactly one verification ran
    assert (answer.status, answer.body) == (
        401,
        {"error": {"code": "invalid_credentials", "message": "The e-mail address or password is incorrect."}},
    )
    assert answer.cookie_names == []
    assert len(calls) == 1


@pytest.mark.parametrize("email", ["locked@example.com", "nobody-locked@example.com"])
def test_throttled_answers_are_the_same_for_existing_and_unknown_accounts(population, new_browser, email):
    if email.startswith("nobody"):
        for n in range(5):
            new_browser().log_in(email, f"wrong {n}", source_ip=f"192.0.2.{n + 10}")
    answer = new_browser().log_in(email, "anything at all", source_ip="192.0.2.99")
    assert answer.status == 429
    assert answer.body == {
        "error": {"code": "rate_limited", "message": "Too many attempts. Please wait a little and try again."}
    }


@pytest.mark.parametrize("email", ["known@example.com", "nobody@example.com"])
def test_a_reset_request_answers_the_same_whether_the_account_exists(population, new_browser, email):
    answer = new_browser().request("POST", "/auth/password/forgot", json_body={"email": email})
    assert answer.status == 202
    assert answer.body == {
        "status": "accepted",
        "message": "If an account uses this address, a link to reset its password is on its way.",
    }


# --- CSRF and Origin on every unsafe route (security §7) ---

UNSAFE_ROUTES = sorted(
    (route.method, route.path.replace("{provider}", "google"))
    for route in http_routes(load_template())
    if route.function_id == "AuthFunction" and route.method in {"POST", "PUT", "PATCH", "DELETE"}
)


VALID_BODIES = {
    "/auth/signup": {
        "email": "mallory@example.com",
        "password": STRONG_PASSWORD,
        "name": "Mallory",
        "timezone": "UTC",
        "age_confirmed": True,
        "accept_terms": True,
    },
    "/auth/login": {"email": "ada@example.com", "password": STRONG_PASSWORD},
    "/auth/verify-email": {"token": "v.someone.0123456789012345678901234567890123456789"},
    "/auth/password/forgot": {"email": "ada@example.com"},
    "/auth/password/reset": {"token": "r.someone.0123456789012345678901234567890123456789", "password": "x" * 20},
    "/auth/password/change": {"current_password": STRONG_PASSWORD, "new_password": "owned by mallory!"},
    "/me": {"name": "Mallory"},
    "DELETE /me": {"current_password": STRONG_PASSWORD},
    "/me/restriction": {"restricted": True},
}


@pytest.mark.parametrize(("method", "path"), UNSAFE_ROUTES)
def test_every_unsafe_route_needs_a_matching_bound_csrf_token_and_our_origin(browser, new_browser, table, method, path):
    # Given a signed-in victim and a well-formed forged request for each unsafe route
    browser.sign_up("ada@example.com")
    before = user_items(table)
    body = VALID_BODIES.get(f"{method} {path}", VALID_BODIES.get(path, {}))

    missing = browser.request(method, path, json_body=body, csrf=None)
    forged = new_browser()
    forged.jar.update({k: v for k, v in browser.jar.items() if k != "authjs.csrf-token"})
    forged.jar["authjs.csrf-token"] = "attacker.chosen"
    naive = forged.request(method, path, json_body=body, csrf="attacker.chosen")
    other_session = new_browser()
    other_session.sign_up("eve@example.com")
    stolen_token = other_session.csrf_cookie
    foreign_pair = new_browser()
    foreign_pair.jar.update({k: v for k, v in browser.jar.items() if k != "authjs.csrf-token"})
    foreign_pair.jar["authjs.csrf-token"] = stolen_token or ""
    cross_session = foreign_pair.request(method, path, json_body=body, csrf=stolen_token)
    foreign_origin = browser.request(method, path, json_body=body, headers={"origin": "https://evil.example"})
    cross_site = browser.request(method, path, json_body=body, headers={"sec-fetch-site": "cross-site"})

    for answer, code in (
        (missing, "csrf_failed"),
        (naive, "csrf_failed"),
        (cross_session, "csrf_failed"),
        (foreign_origin, "origin_not_allowed"),
        (cross_site, "origin_not_allowed"),
    ):
        assert (answer.status, answer.error_code) == (403, code)
    # Then each is refused and nothing of the victim's changed
    assert [item for item in user_items(table) if "eve@" not in json.dumps(item, default=str)] == before


def test_no_get_route_changes_state(browser, table):
    browser.sign_up("ada@example.com")
    before = user_items(table)
    for route in http_routes(load_template()):
        if route.function_id == "AuthFunction" and route.method == "GET" and "oauth" not in route.path:
            browser.request("GET", route.path)
    assert user_items(table) == before


# --- bad input: a clear 4xx with a stable code, nothing written ---


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"email": "not-an-email"}, 422, "validation_error"),
        ({"email": "a@b"}, 422, "validation_error"),
        ({"password": "short"}, 400, "password_too_short"),
        ({"password": "x" * 200}, 400, "password_too_long"),
        ({"password": "y" * 5000}, 422, "validation_error"),
        ({"password": "iloveyou123"}, 400, "password_too_common"),
        ({"timezone": "Mars/Olympus_Mons"}, 422, "validation_error"),
        ({"age_confirmed": False}, 400, "age_not_confirmed"),
        ({"accept_terms": False}, 400, "terms_not_accepted"),
        ({"age_confirmed": "yes"}, 422, "validation_error"),
        ({"name": "   "}, 422, "validation_error"),
    ],
)
def test_bad_sign_ups_are_refused_and_write_nothing(browser, table, overrides, status, code):
    valid = VALID_BODIES["/auth/signup"]
    answer = browser.request("POST", "/auth/signup", json_body={**valid, **overrides})
    assert (answer.status, answer.error_code) == (status, code)
    assert user_items(table) == []
    assert "authjs.session-token" not in browser.jar


def test_a_duplicate_email_is_refused_and_its_owner_told(browser, new_browser, table, outbox):
    browser.sign_up("ada@example.com")
    before = user_items(table)
    again = new_browser().sign_up("ADA@Example.com")
    assert (again.status, again.error_code) == (409, "email_taken")
    assert user_items(table) == before
    assert "tried to create" in outbox.last_to("ada@example.com").subject


def test_malformed_json_and_tampered_session_cookies(browser):
    browser.sign_up("ada@example.com")
    token = browser.jar["authjs.session-token"]
    header, payload, signature = token.split(".")
    claims = jwt_claims(token)
    claims["sub"] = "someone-else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    browser.jar["authjs.session-token"] = f"{header}.{forged_payload}.{signature}"
    assert browser.request("GET", "/me").status == 401
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"session+jwt"}').decode().rstrip("=")
    browser.jar["authjs.session-token"] = f"{none_header}.{payload}."
    assert browser.request("GET", "/me").status == 401


def test_a_resent_verification_link_replaces_the_older_one(browser, outbox):
    browser.sign_up("ada@example.com")
    first = outbox.last_to("ada@example.com").token()
    resent = browser.request("POST", "/auth/verify-email/resend")
    assert resent.status == 202
    second = outbox.last_to("ada@example.com").token()
    assert second != first
    old = browser.request("POST", "/auth/verify-email", json_body={"token": first})
    assert (old.status, old.error_code) == (400, "invalid_token")
    assert browser.request("POST", "/auth/verify-email", json_body={"token": second}).status == 200
    for _ in range(3):
        browser.request("POST", "/auth/verify-email/resend")
    assert browser.request("POST", "/auth/verify-email/resend").status == 429


def test_p09_a_request_is_not_logged_under_the_previous_requests_user(browser, new_browser, log_output):
    # Given a warm function that just served a signed-in user
    browser.sign_up("ada@example.com")
    browser.request("GET", "/me")

    # When a stranger's anonymous request comes next to the same container
    log_output.truncate(0)
    log_output.seek(0)
    new_browser().request("GET", "/auth/csrf")

    # Then its log lines carry no user id (state is cleared per invocation)
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    assert lines
    assert not [line for line in lines if "user_id" in line]

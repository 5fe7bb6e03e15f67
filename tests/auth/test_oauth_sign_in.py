"""Google and Facebook sign-in against the simulated providers, over real HTTP (P02, P03, security §8)."""

import base64
import hashlib
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from flowctory import wiring
from sandbox.idp_sim import IdpServer, TestIdentity, create_app, environment
from tests.auth.conftest import LOCAL_ORIGIN, Answer, Browser

CONSENT = {"callback_url": "/posts?tab=scheduled", "age_confirmed": "true", "accept_terms": "true"}


@pytest.fixture
def idp(auth_env, monkeypatch) -> Iterator[IdpServer]:
    """The simulator on a random port, and the auth function configured to use it."""
    with IdpServer(create_app()) as server:
        for name, value in environment(server.url).items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        wiring.sessions().clock = auth_env
        yield server


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def start(browser: Browser, provider: str, **params: str) -> Answer:
    return browser.request("GET", f"/auth/oauth/{provider}/start", query={**CONSENT, **params})


def consent(authorize_url: str, decision: str = "allow", **form: str) -> str:
    """What the user does on the provider's page: the redirect back to the app."""
    page = httpx.get(authorize_url)
    assert page.status_code == 200, page.text
    answer = httpx.post(authorize_url, data={**query(authorize_url), "decision": decision, **form})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def come_back(browser: Browser, redirect: str) -> Answer:
    parts = urlsplit(redirect)
    assert f"{parts.scheme}://{parts.netloc}" == LOCAL_ORIGIN
    return browser.request("GET", parts.path, query=query(redirect))


def sign_in_with(browser: Browser, provider: str, identity: str = "ada", **form: str) -> Answer:
    started = start(browser, provider)
    assert started.status == 302, started.body
    return come_back(browser, consent(started.headers["location"], identity=identity, **form))


def test_p02_sign_in_with_google_creates_the_account_with_pkce_and_a_verified_id_token(browser, idp, table):
    # When a new user signs in with Google on the simulator
    started = start(browser, "google", timezone="Europe/Paris")
    authorize = started.headers["location"]
    flow_cookie = started.cookie("authjs.callback-url")["authjs.callback-url"]
    assert flow_cookie["httponly"] and flow_cookie["samesite"] == "Lax"
    parameters = query(authorize)
    assert parameters["code_challenge_method"] == "S256" and parameters["nonce"] and len(parameters["state"]) >= 43
    back = come_back(browser, consent(authorize, identity="ada"))

    # Then the browser goes back to the page it came from, signed in, and the flow cookie is gone
    assert back.status == 302
    assert back.headers["location"] == LOCAL_ORIGIN + "/posts?tab=scheduled"
    assert back.headers["referrer-policy"] == "no-referrer"
    assert "authjs.callback-url" not in browser.jar and "authjs.session-token" in browser.jar
    me = browser.request("GET", "/me").body
    assert (me["email"], me["name"], me["email_verified"], me["has_password"]) == (
        "ada@example.com",
        "Ada Lovelace",
        True,
        False,
    )
    assert me["sign_in_providers"] == ["google"] and me["timezone"] == "Europe/Paris"
    assert me["avatar_url"].startswith(idp.url)

    # And the token request proved PKCE: its verifier hashes to the challenge sent at the start
    verifier = idp.simulator.token_requests[-1]["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert digest == parameters["code_challenge"]
    assert any(item["pk"] == "IDP#google#100000000000000000001" for item in table.scan()["Items"])


def test_p02_sign_in_with_facebook_and_again_opens_the_same_account(browser, new_browser, idp, outbox):
    first = sign_in_with(browser, "facebook", identity="grace")
    assert first.status == 302
    me = browser.request("GET", "/me").body
    assert (me["email"], me["sign_in_providers"], me["email_verified"]) == ("grace@example.com", ["facebook"], False)
    assert outbox.last_to("grace@example.com").subject.startswith("Confirm")  # Facebook does not vouch for it

    again = new_browser()
    assert sign_in_with(again, "facebook", identity="grace").status == 302
    assert again.request("GET", "/me").body["id"] == me["id"]


def test_p03_tiktok_is_not_a_sign_in_provider(browser, idp, table):
    for path in ("/auth/oauth/tiktok/start", "/auth/oauth/tiktok/callback"):
        answer = browser.request("GET", path, query={"code": "x", "state": "y", **CONSENT})
        assert (answer.status, answer.error_code) == (404, "unknown_provider")
        assert "authjs.session-token" not in browser.jar
    assert not [item for item in table.scan()["Items"] if item["pk"].startswith("IDP#tiktok")]


def test_a_replayed_callback_is_refused(browser, new_browser, idp):
    started = start(browser, "google")
    redirect = consent(started.headers["location"], identity="ada")
    cookie = browser.jar["authjs.callback-url"]
    assert come_back(browser, redirect).status == 302

    # The same callback, with the flow cookie the attacker captured
    replay = new_browser()
    replay.jar["authjs.callback-url"] = cookie
    answer = come_back(replay, redirect)
    assert (answer.status, answer.error_code) == (400, "oauth_state_invalid")
    assert "authjs.session-token" not in replay.jar and "authjs.callback-url" not in replay.jar


@pytest.mark.parametrize("case", ["no-cookie", "other-state", "other-provider", "expired"])
def test_callbacks_without_their_flow_are_refused(browser, new_browser, idp, auth_env, case):
    started = start(browser, "google")
    redirect = consent(started.headers["location"], identity="ada")
    if case == "no-cookie":
        browser.jar.pop("authjs.callback-url")
    elif case == "other-state":
        redirect = redirect.replace("state=", "state=x")
    elif case == "other-provider":
        redirect = redirect.replace("/google/", "/facebook/")
    else:
        auth_env.advance(minutes=11)
    answer = come_back(browser, redirect)
    assert (answer.status, answer.error_code) == (400, "oauth_state_invalid")
    assert "authjs.session-token" not in browser.jar


def test_a_cancelled_consent_is_a_clear_400_and_clears_the_flow(browser, idp, table):
    started = start(browser, "google")
    answer = come_back(browser, consent(started.headers["location"], decision="deny"))
    assert (answer.status, answer.error_code) == (400, "oauth_denied")
    assert "authjs.callback-url" not in browser.jar and "authjs.session-token" not in browser.jar
    assert not [item for item in table.scan()["Items"] if item["pk"].startswith(("USER#", "IDP#"))]


def test_an_open_redirect_is_refused_at_the_start(browser, idp):
    for target in ("//evil.com", "https://evil.com/x", "javascript:alert(1)", "/%2F%2Fevil.com"):
        answer = browser.request("GET", "/auth/oauth/google/start", query={"callback_url": target})
        assert (answer.status, answer.error_code) == (400, "invalid_callback_url")


def test_a_first_social_sign_in_needs_the_attestation(browser, idp, table):
    started = browser.request("GET", "/auth/oauth/google/start", query={"callback_url": "/"})
    answer = come_back(browser, consent(started.headers["location"], identity="ada"))
    assert (answer.status, answer.error_code) == (400, "consent_required")
    assert not [item for item in table.scan()["Items"] if item["pk"].startswith("USER#")]


def test_a_verified_google_email_links_to_a_verified_account_and_says_so(browser, new_browser, idp, outbox):
    # Given a verified password account
    owner = new_browser()
    owner.sign_up("ada@example.com")
    owner.request("POST", "/auth/verify-email", json_body={"token": outbox.last_to("ada@example.com").token()})
    owner_id = owner.request("GET", "/me").body["id"]

    # When the same (Google-verified) address signs in with Google
    assert sign_in_with(browser, "google", identity="ada").status == 302

    # Then it is the same account, and its owner is told of the new sign-in method
    assert browser.request("GET", "/me").body["id"] == owner_id
    assert "Google sign-in was added" in outbox.last_to("ada@example.com").subject


def test_an_unverified_side_never_links_accounts(browser, new_browser, idp, outbox):
    # Given an unverified password account (maybe planted by an attacker)
    new_browser().sign_up("ada@example.com")

    # When the real owner signs in with Google (verified), it is not attached to it
    answer = sign_in_with(browser, "google", identity="ada")
    assert (answer.status, answer.error_code) == (409, "account_not_linked")

    # And an unverified Google address never attaches to a verified account either
    idp.simulator.add_identity(TestIdentity("eve", "999", "known@example.com", "Eve", email_verified=False))
    known = new_browser()
    known.sign_up("known@example.com")
    known.request("POST", "/auth/verify-email", json_body={"token": outbox.last_to("known@example.com").token()})
    answer = sign_in_with(new_browser(), "google", identity="eve")
    assert (answer.status, answer.error_code) == (409, "account_not_linked")


@pytest.mark.parametrize("flaw", ["audience", "nonce", "expired", "issuer"])
def test_id_tokens_that_do_not_verify_are_refused(idp, auth_env, flaw):
    from datetime import timedelta

    from flowctory.adapters.identity import GoogleProvider
    from flowctory.errors import BadRequest

    now = auth_env.now
    claims = {
        "iss": f"{idp.url}/google",
        "aud": "sandbox-google-client.apps.local",
        "sub": "1",
        "email": "ada@example.com",
        "nonce": "expected-nonce",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    claims.update(
        {
            "audience": {"aud": "someone-else"},
            "nonce": {"nonce": "another-nonce"},
            "expired": {"exp": int((now - timedelta(hours=1)).timestamp())},
            "issuer": {"iss": "https://accounts.evil.example"},
        }[flaw]
    )
    provider = wiring.identity_providers()["google"]
    assert isinstance(provider, GoogleProvider)
    good = dict(claims, **{"aud": "sandbox-google-client.apps.local", "nonce": "expected-nonce"})
    if flaw in {"audience", "nonce"}:
        assert provider._verified_claims(idp.simulator.sign_id_token(good), nonce="expected-nonce", now=now)
    with pytest.raises(BadRequest):
        provider._verified_claims(idp.simulator.sign_id_token(claims), nonce="expected-nonce", now=now)
    assert json.dumps(claims)

"""Google and Facebook sign-in against the simulated providers, over real HTTP (P02, P03, security §8)."""

import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from flowctory import wiring
from sandbox.idp_sim import IdpServer, TestIdentity, create_app, environment
from tests.auth.conftest import LOCAL_ORIGIN, PRODUCTION_ORIGIN, Answer, Browser

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


def assert_sent_to_sign_in(browser: Browser, answer: Answer, code: str) -> None:
    """A refused callback: to the console's sign-in page with the code alone, the flow cookie cleared, no session."""
    assert answer.status == 302, answer.body
    assert answer.headers["location"] == f"{LOCAL_ORIGIN}/sign-in?error={code}"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert not answer.body
    assert "Max-Age=0" in answer.set_cookies[answer.cookie_names.index("authjs.callback-url")]
    assert "authjs.session-token" not in answer.cookie_names
    assert "authjs.callback-url" not in browser.jar and "authjs.session-token" not in browser.jar


def accounts_state(table) -> list[dict[str, Any]]:
    """Every item but the rate counters and the one-time states: users, addresses, identities, sessions, tokens."""
    items = [item for item in table.scan()["Items"] if not item["pk"].startswith(("RATE#", "OAUTH#"))]
    return sorted(items, key=lambda item: (item["pk"], item["sk"]))


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
    answer = browser.request("GET", "/auth/oauth/tiktok/start", query=CONSENT)
    assert (answer.status, answer.error_code) == (404, "unknown_provider")
    answer = browser.request("GET", "/auth/oauth/tiktok/callback", query={"code": "x", "state": "y"})
    assert_sent_to_sign_in(browser, answer, "unknown_provider")
    assert not [item for item in table.scan()["Items"] if item["pk"].startswith("IDP#tiktok")]


def test_a_replayed_callback_is_refused(browser, new_browser, idp, table):
    started = start(browser, "google")
    redirect = consent(started.headers["location"], identity="ada")
    cookie = browser.jar["authjs.callback-url"]
    assert come_back(browser, redirect).status == 302
    before = accounts_state(table)

    # The same callback, with the flow cookie the attacker captured
    replay = new_browser()
    replay.jar["authjs.callback-url"] = cookie
    answer = come_back(replay, redirect)
    assert_sent_to_sign_in(replay, answer, "oauth_state_invalid")
    assert accounts_state(table) == before


@pytest.mark.parametrize("case", ["no-cookie", "other-state", "other-provider", "expired"])
def test_callbacks_without_their_flow_go_back_to_sign_in(browser, idp, auth_env, table, outbox, case):
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
    assert_sent_to_sign_in(browser, answer, "oauth_state_invalid")
    assert accounts_state(table) == [] and outbox.mails == []


def test_a_cancelled_consent_goes_back_to_sign_in_and_creates_nothing(browser, idp, table, outbox):
    # Given a sign-in started from a page of the app
    started = start(browser, "google")

    # When the user cancels on Google's consent page
    answer = come_back(browser, consent(started.headers["location"], decision="deny"))

    # Then the browser lands on the sign-in page (not the flow's page, not a JSON body), and nothing was created
    assert_sent_to_sign_in(browser, answer, "oauth_denied")
    assert accounts_state(table) == [] and outbox.mails == []


def test_a_provider_error_sends_its_code_only_never_its_words(browser, idp, table):
    # Given the provider comes back with another error and its own text (it can say anything)
    started = start(browser, "google")
    redirect = consent(started.headers["location"], identity="ada")
    state = query(redirect)["state"]
    answer = browser.request(
        "GET",
        "/auth/oauth/google/callback",
        query={"state": state, "error": "server_error<script>", "error_description": "token=abc; see evil.example"},
        headers={"host": "evil.example", "x-forwarded-host": "evil.example"},
    )

    # Then the sign-in page on the configured origin gets the stable code, and none of the provider's words
    assert_sent_to_sign_in(browser, answer, "oauth_error")
    assert accounts_state(table) == []


def test_an_unreachable_provider_goes_back_to_sign_in(browser, idp, auth_env, monkeypatch, table):
    # Given a Facebook sign-in whose consent succeeded, when Facebook then stops answering
    started = start(browser, "facebook")
    redirect = consent(started.headers["location"], identity="grace")
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("FACEBOOK_GRAPH_URL", f"http://127.0.0.1:{closed.getsockname()[1]}/graph")
        wiring.reset()
        wiring.sessions().clock = auth_env

        # Then the code exchange fails and the browser lands on sign-in with upstream_error
        assert_sent_to_sign_in(browser, come_back(browser, redirect), "upstream_error")
    assert accounts_state(table) == []


def test_a_provider_that_shares_no_address_goes_back_to_sign_in(browser, idp, table):
    # Facebook omits an address it has not verified
    answer = sign_in_with(browser, "facebook", identity="alan")
    assert_sent_to_sign_in(browser, answer, "oauth_email_missing")
    assert accounts_state(table) == []


def test_a_provider_missing_on_this_deployment_goes_back_to_sign_in(browser, idp, auth_env, monkeypatch):
    monkeypatch.delenv("FACEBOOK_APP_ID")
    wiring.reset()
    wiring.sessions().clock = auth_env
    answer = browser.request("GET", "/auth/oauth/facebook/callback", query={"code": "x", "state": "y"})
    assert_sent_to_sign_in(browser, answer, "provider_unavailable")


def test_any_other_refusal_has_one_generic_code_on_the_configured_origin(production_env):
    from flowctory.api.oauth import CALLBACK_ERRORS, refused_sign_in_url
    from flowctory.errors import AppError, Forbidden

    assert refused_sign_in_url(Forbidden("Some words", code="csrf_failed")).endswith("/sign-in?error=sign_in_failed")
    for code in CALLBACK_ERRORS:
        assert refused_sign_in_url(AppError("free text", code=code)) == f"{PRODUCTION_ORIGIN}/sign-in?error={code}"


def test_an_open_redirect_is_refused_at_the_start(browser, idp):
    for target in ("//evil.com", "https://evil.com/x", "javascript:alert(1)", "/%2F%2Fevil.com"):
        answer = browser.request("GET", "/auth/oauth/google/start", query={"callback_url": target})
        assert (answer.status, answer.error_code) == (400, "invalid_callback_url")


def test_a_first_social_sign_in_needs_the_attestation(browser, idp, table, outbox):
    started = browser.request("GET", "/auth/oauth/google/start", query={"callback_url": "/"})
    answer = come_back(browser, consent(started.headers["location"], identity="ada"))
    assert_sent_to_sign_in(browser, answer, "consent_required")
    assert accounts_state(table) == [] and outbox.mails == []


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


def test_an_unverified_side_never_links_accounts(browser, new_browser, idp, outbox, table):
    # Given an unverified password account (maybe planted by an attacker)
    new_browser().sign_up("ada@example.com")
    before, mails = accounts_state(table), len(outbox.mails)

    # When the real owner signs in with Google (verified), it is not attached to it: back to sign-in, nothing changed
    answer = sign_in_with(browser, "google", identity="ada")
    assert_sent_to_sign_in(browser, answer, "account_not_linked")
    assert accounts_state(table) == before and len(outbox.mails) == mails

    # And an unverified Google address never attaches to a verified account either
    idp.simulator.add_identity(TestIdentity("eve", "999", "known@example.com", "Eve", email_verified=False))
    known = new_browser()
    known.sign_up("known@example.com")
    known.request("POST", "/auth/verify-email", json_body={"token": outbox.last_to("known@example.com").token()})
    before, mails = accounts_state(table), len(outbox.mails)
    eve = new_browser()
    assert_sent_to_sign_in(eve, sign_in_with(eve, "google", identity="eve"), "account_not_linked")
    assert accounts_state(table) == before and len(outbox.mails) == mails


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

"""Connecting TikTok accounts through the real handlers and the TikTok simulator over HTTP (promises P03, P04, P30)."""

from flowctory import wiring
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from tests.auth.conftest import PRODUCTION_ORIGIN
from tests.connect.conftest import CONFIG, ROOMY_PLANS, callback, connect, consent, outcome_of, session_claim

FLOW_COOKIES = ("tiktok_oauth_state", "tiktok_code_verifier", "flowctory_pending_connection")


def accounts_in_table(table, user_id: str) -> list[dict]:
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"USER#{user_id}"})
    return [item for item in items["Items"] if item["sk"].startswith("TIKTOK#")]


def revoked_open_ids(sim) -> list[str]:
    """Whose grants the simulator revoked (it announces each with an authorization.removed webhook)."""
    return [delivery["user_openid"] for delivery in sim.webhooks() if delivery["event"] == "authorization.removed"]


def user_id_of(browser) -> str:
    return browser.request("GET", "/auth/session").body["user"]["id"]


def test_p03_p04_two_accounts_connect_to_one_signed_in_user_and_are_listed(ada, sim):
    # Given a signed-in creator
    # When they connect two TikTok accounts
    first = connect(ada, creator=0)
    second = connect(ada, creator=1)

    # Then both are listed with exactly what the policy says we keep, and no token
    answer = ada.request("GET", "/tiktok/accounts")
    assert answer.status == 200
    listed = {account["open_id"]: account for account in answer.body["accounts"]}
    assert set(listed) == {first, second}
    assert (listed[first]["display_name"], listed[second]["display_name"]) == ("Ava (public)", "Ben (private)")
    assert {account["status"] for account in listed.values()} == {"active"}
    assert set(listed[first]) == {
        "open_id",
        "display_name",
        "avatar_url",
        "status",
        "access_expires_at",
        "refresh_expires_at",
        "connected_at",
    }


def test_p03_connecting_needs_a_signed_in_user(env, new_browser, sim):
    # Given nobody signed in
    stranger = new_browser()

    # When the connect route is called, Then it refuses and starts no flow
    answer = stranger.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})
    assert answer.status == 401
    assert not set(FLOW_COOKIES) & set(answer.cookie_names)
    assert stranger.request("GET", "/tiktok/accounts").status == 401


def test_p30_connect_sets_three_httponly_ten_minute_cookies_and_redirects_with_state_and_pkce(ada, sim):
    # When a signed-in creator starts connecting
    answer = ada.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})

    # Then TikTok's consent page gets the state and an S256 challenge, and the three cookies are set
    assert answer.status == 302
    location = answer.headers["location"]
    assert location.startswith(sim.url + "/v2/auth/authorize/?")
    assert "code_challenge_method=S256" in location and "state=" in location
    assert f"client_key={CONFIG.client_key}" in location
    for name in FLOW_COOKIES:
        cookie = answer.cookie(name)[name]
        assert cookie["httponly"] and cookie["max-age"] == "600" and cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
    state = answer.cookie("tiktok_oauth_state")["tiktok_oauth_state"].value
    assert f"state={state}" in location
    # The verifier never reaches the browser in clear: its cookie is sealed
    assert len(answer.cookie("tiktok_code_verifier")["tiktok_code_verifier"].value.split(".")) == 5


def test_p30_production_flow_cookies_are_host_prefixed_and_secure(
    aws, function_env, monkeypatch, sim, clock, new_browser
):
    from tests.connect.conftest import _environment

    # Given the production stage (https web origin)
    _environment(function_env, monkeypatch, sim, PRODUCTION_ORIGIN, ROOMY_PLANS)
    wiring.sessions().clock = clock
    browser = new_browser(PRODUCTION_ORIGIN)
    assert browser.sign_up("ada@example.com").status == 201

    # When connecting starts
    answer = browser.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})

    # Then the cookies carry the __Host- prefix and Secure
    assert answer.status == 302
    for name in FLOW_COOKIES:
        cookie = answer.cookie(f"__Host-{name}")[f"__Host-{name}"]
        assert cookie["secure"] and cookie["httponly"] and cookie["max-age"] == "600"


def test_p30_the_callback_deletes_the_three_cookies_and_redirects_to_the_callback_url(ada, sim):
    # Given a creator back from TikTok's consent page
    query = consent(ada)

    # When the callback runs
    answer = callback(ada, query)

    # Then it redirects to the page they started from, with the outcome, and the cookies are gone
    assert answer.status == 302
    assert answer.headers["location"].startswith("http://localhost:3000/accounts?")
    assert answer.headers["referrer-policy"] == "no-referrer"
    for name in FLOW_COOKIES:
        assert answer.cookie(name)[name]["max-age"] == "0"
    assert not set(FLOW_COOKIES) & set(ada.jar)


def test_the_session_claim_follows_connection_and_disconnection(ada, sim):
    # Given a signed-in creator without TikTok
    assert session_claim(ada.request("GET", "/tiktok/accounts")) is False

    # When they connect, Then the re-issued session says TikTok is connected
    answer = callback(ada, consent(ada))
    assert session_claim(answer) is True
    open_id = outcome_of(answer)["open_id"]

    # When they disconnect, Then it says so no more
    assert session_claim(ada.request("DELETE", f"/tiktok/accounts/{open_id}")) is False


def test_reconnecting_an_account_updates_it_instead_of_adding_one(ada, sim, table):
    # Given a connected account
    open_id = connect(ada)
    user_id = user_id_of(ada)
    before = TikTokAccountRepository(wiring.table()).get(user_id, open_id)

    # When the creator connects the same TikTok account again
    assert connect(ada) == open_id

    # Then there is still one item, with new tokens, a newer version and the first connection date
    after = TikTokAccountRepository(wiring.table()).get(user_id, open_id)
    assert len(accounts_in_table(table, user_id)) == 1
    assert after.sealed_tokens != before.sealed_tokens
    assert after.token_version == before.token_version + 1
    assert after.connected_at == before.connected_at


def test_an_unsafe_callback_url_is_refused_before_anything_starts(ada, sim):
    answer = ada.request("GET", "/tiktok/connect", query={"callback_url": "https://evil.example/steal"})
    assert answer.status == 400 and answer.error_code == "invalid_callback_url"
    assert not set(FLOW_COOKIES) & set(answer.cookie_names)


def test_connecting_beyond_the_plan_limit_is_refused_with_a_clear_message(
    env, function_env, monkeypatch, new_browser, sim
):
    from flowctory import billing_wiring

    # Given the built-in free plan (one TikTok account) and one account connected
    monkeypatch.setenv("PLANS_JSON", "")
    wiring.reset()
    billing_wiring.reset()
    wiring.sessions().clock = env
    browser = new_browser()
    assert browser.sign_up("ada@example.com").status == 201
    connect(browser)

    # When a second connection starts, Then it is refused, naming the limit
    answer = browser.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})
    assert answer.status == 403 and answer.error_code == "plan_limit_reached"
    assert "1 connected TikTok account" in answer.body["error"]["message"]
    assert not set(FLOW_COOKIES) & set(answer.cookie_names)


def test_a_consent_given_past_the_plan_limit_is_revoked_and_nothing_stored(env, monkeypatch, new_browser, sim, table):
    from flowctory import billing_wiring

    # Given the built-in free plan (one account) and a creator at TikTok's consent page with no account yet
    monkeypatch.setenv("PLANS_JSON", "")
    wiring.reset()
    billing_wiring.reset()
    wiring.sessions().clock = env
    laptop = new_browser()
    assert laptop.sign_up("ada@example.com").status == 201
    query = consent(laptop, creator=1)
    # ... while, signed in on another device, they connect another account, which fills the plan
    phone = new_browser()
    assert phone.log_in("ada@example.com").status == 200
    connect(phone, creator=0)

    # When the first consent comes back
    answer = callback(laptop, query)

    # Then the outcome names the limit, the unused grant is revoked at TikTok, and nothing is stored
    assert answer.status == 302
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "plan_limit_reached"}
    assert [item["open_id"] for item in accounts_in_table(table, user_id_of(laptop))] == [
        "sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"
    ]
    assert revoked_open_ids(sim) == ["sim-0002-private-7c1e-8d2f-6a3b4c5d6e70"]
    assert not set(FLOW_COOKIES) & set(laptop.jar)


def test_p04_the_stored_item_holds_only_the_promised_profile_fields(ada, sim, table):
    # When an account is connected
    open_id = connect(ada)

    # Then its item holds, besides keys, state and sealed tokens, only display name and avatar URL
    (item,) = accounts_in_table(table, user_id_of(ada))
    assert item["open_id"] == open_id
    profile_fields = set(item) - {
        "pk",
        "sk",
        "user_id",
        "open_id",
        "scopes",
        "status",
        "connected_at",
        "sealed_tokens",
        "access_expires_at",
        "refresh_expires_at",
        "token_version",
    }
    assert profile_fields == {"display_name", "avatar_url"}

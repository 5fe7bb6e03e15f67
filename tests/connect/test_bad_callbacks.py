"""Bad input at the TikTok callback: each ends in a clear 4xx or redirect, the three flow cookies are
cleared, and nothing half-written remains (promise P30; security §8)."""

from tests.connect.conftest import callback, consent, outcome_of
from tests.connect.test_connect_flow import FLOW_COOKIES, accounts_in_table, revoked_open_ids, user_id_of


def assert_flow_cookies_cleared(answer) -> None:
    for name in FLOW_COOKIES:
        assert answer.cookie(name)[name]["max-age"] == "0", name


def assert_nothing_stored(table, browser) -> None:
    assert accounts_in_table(table, user_id_of(browser)) == []


def flow_cookies(browser) -> dict[str, str]:
    return {name: value for name, value in browser.jar.items() if name in FLOW_COOKIES}


def test_p30_a_callback_without_the_cookies_is_refused(ada, sim, table):
    # Given TikTok's answer, but a browser that lost the flow cookies
    query = consent(ada)
    for name in FLOW_COOKIES:
        ada.jar.pop(name)

    # Then the callback is refused, the cookies are cleared, and nothing is stored
    answer = callback(ada, query)
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_p30_each_of_the_three_cookies_is_required(ada, sim, table):
    for missing in FLOW_COOKIES:
        # Given a flow back from TikTok whose browser lost one of the three cookies
        query = consent(ada)
        ada.jar.pop(missing)

        # Then the callback is refused and nothing is stored
        answer = callback(ada, query)
        assert answer.status == 400 and answer.error_code == "tiktok_state_invalid", missing
        assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_p30_a_mismatched_state_is_refused(ada, sim, table):
    query = consent(ada)
    answer = callback(ada, {**query, "state": query["state"][:-2] + "xx"})
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_p30_a_missing_state_is_refused(ada, sim, table):
    query = consent(ada)
    del query["state"]
    answer = callback(ada, query)
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_nothing_stored(table, ada)


def test_p30_a_forged_flow_cookie_is_refused(ada, sim, table):
    query = consent(ada)
    ada.jar["flowctory_pending_connection"] = ada.jar["flowctory_pending_connection"][:-4] + "AAAA"
    answer = callback(ada, query)
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_nothing_stored(table, ada)


def test_p30_a_flow_older_than_ten_minutes_is_refused(ada, sim, table, env):
    # Given a creator who left TikTok's consent page open for 11 minutes
    query = consent(ada)
    env.advance(minutes=11)

    # Then the callback is refused (the sealed cookies and the server's record both expired)
    answer = callback(ada, query)
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_p30_a_replayed_callback_is_refused_even_with_its_cookies(ada, sim, table):
    # Given a finished connection whose callback, cookies included, was captured
    query = consent(ada)
    captured = flow_cookies(ada)
    assert outcome_of(callback(ada, query))["tiktok_connect"] == "connected"

    # When it is replayed
    ada.jar.update(captured)
    answer = callback(ada, query)

    # Then the used state is refused, and the account is still there once
    assert answer.status == 400 and answer.error_code == "tiktok_state_invalid"
    assert_flow_cookies_cleared(answer)
    assert len(accounts_in_table(table, user_id_of(ada))) == 1


def test_a_replayed_code_in_a_new_flow_is_refused_by_tiktok_and_changes_nothing(ada, sim, table):
    # Given a connection made with a code, then a new flow started
    first_query = consent(ada)
    assert outcome_of(callback(ada, first_query))["tiktok_connect"] == "connected"
    user_id = user_id_of(ada)
    (before,) = accounts_in_table(table, user_id)
    start = ada.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})
    new_state = ada.jar["tiktok_oauth_state"]
    assert start.status == 302

    # When the old code comes back with the new flow's state
    answer = callback(ada, {**first_query, "state": new_state})

    # Then TikTok refuses it, the outcome says so, and the stored account is unchanged
    assert answer.status == 302
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "tiktok_reconnect_required"}
    assert_flow_cookies_cleared(answer)
    assert accounts_in_table(table, user_id) == [before]


def test_p03_a_callback_without_a_session_is_refused(ada, sim, table):
    # Given a creator whose session ended while at TikTok
    query = consent(ada)
    ada.jar.pop("authjs.session-token")

    # Then the callback asks to sign in, clears the cookies and stores nothing
    answer = callback(ada, query)
    assert answer.status == 401
    assert_flow_cookies_cleared(answer)
    ada.jar.clear()
    assert ada.log_in("ada@example.com").status == 200
    assert_nothing_stored(table, ada)


def test_a_callback_for_another_signed_in_user_is_refused(ada, new_browser, sim, table):
    # Given Ada's flow (cookies and TikTok's answer) replayed in Bob's signed-in browser
    query = consent(ada)
    bob = new_browser()
    assert bob.sign_up("bob@example.com").status == 201
    bob.jar.update(flow_cookies(ada))

    # Then it is refused for Bob, and neither of them gets an account
    answer = callback(bob, query)
    assert answer.status == 403 and answer.error_code == "tiktok_connection_not_yours"
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, bob)
    assert_nothing_stored(table, ada)


def test_tiktoks_error_on_the_callback_is_shown_not_a_500(ada, sim, table):
    # Given the creator pressed Cancel on TikTok's consent page
    query = consent(ada, button="Cancel")
    assert query["error"] == "access_denied"

    # Then they are sent back with a clear outcome
    answer = callback(ada, query)
    assert answer.status == 302
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "tiktok_access_denied"}
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_a_grant_without_video_publishing_asks_to_reconnect_and_is_revoked(ada, sim, table):
    # Given the creator unticked video publishing on TikTok's consent page
    query = consent(ada, uncheck=("video.publish",))

    # Then the outcome asks to reconnect and allow it; the unusable grant is revoked, nothing is stored
    answer = callback(ada, query)
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "tiktok_scope_missing"}
    assert revoked_open_ids(sim) == ["sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"]
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_tiktok_failing_at_the_token_exchange_ends_cleanly(ada, sim, table):
    query = consent(ada)
    sim.fault("token", status=503, error_code="temporarily_unavailable")
    answer = callback(ada, query)
    assert answer.status == 302
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "tiktok_unavailable"}
    assert_flow_cookies_cleared(answer)
    assert_nothing_stored(table, ada)


def test_tiktok_failing_at_user_info_revokes_the_grant_and_stores_nothing(ada, sim, table):
    query = consent(ada)
    sim.fault("user_info", status=401, error_code="scope_not_authorized")
    answer = callback(ada, query)
    assert outcome_of(answer) == {"tiktok_connect": "failed", "reason": "tiktok_scope_missing"}
    assert revoked_open_ids(sim) == ["sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"]
    assert_nothing_stored(table, ada)


def test_the_callback_route_is_the_registered_redirect_uri(ada, sim):
    # The authorize URL names this deployment's callback, which TikTok must match exactly
    location = ada.request("GET", "/tiktok/connect").headers["location"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Ftiktok%2Fcallback" in location

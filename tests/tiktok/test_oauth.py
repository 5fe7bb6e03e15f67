"""OAuth v2 against the simulator over HTTP: authorize page, PKCE, code exchange, refresh, revoke."""

import httpx
import pytest

from flowctory.adapters.tiktok import errors, oauth
from flowctory.adapters.tiktok.webhooks import parse_event, verify_signature
from tests.tiktok.conftest import REDIRECT_URI, TEST_CONFIG, WEB, read_form, submit

pytestmark = pytest.mark.e2e


def test_authorize_page_is_a_plain_form_with_one_radio_per_creator(sim, client):
    # Given an authorization URL
    url = client.authorize_url(redirect_uri=REDIRECT_URI, scopes=["user.info.basic"], state="s", code_verifier="v" * 43)

    # When a browser opens it
    page = WEB.get(url)

    # Then it is an HTML form: a radio per sandbox creator, the first checked, and an Authorize button
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    form = read_form(page.text)
    radios = form.radios["creator"]
    assert [open_id for open_id, _ in radios] == [c["open_id"] for c in sim.creators()]
    assert [checked for _, checked in radios] == [True, False, False, False]
    assert ("decision", "authorize", "Authorize") in form.buttons
    assert form.method == "post"


def test_full_round_trip_with_pkce(connect, client, sim):
    # When a creator goes through the authorize page and the app exchanges the code
    connection = connect(creator_index=1)

    # Then the callback carried code (with TikTok's odd characters), scopes and the state, unchanged
    assert connection.callback["state"] == "state-123"
    assert "*" in connection.callback["code"] and "!" in connection.callback["code"]
    assert connection.callback["scopes"].split(",") == [
        "user.info.basic",
        "user.info.profile",
        "video.publish",
        "video.upload",
    ]
    # and the tokens work, for the creator chosen on the page
    grant = connection.grant
    private = sim.creators()[1]
    assert grant.open_id == private["open_id"]
    assert grant.scope == ("user.info.basic", "user.info.profile", "video.publish", "video.upload")
    assert grant.access_token.get_secret_value().startswith("act.")
    user = client.user_info(grant.access_token, fields=["open_id", "display_name", "username"])
    assert (user.open_id, user.display_name, user.username) == (
        private["open_id"],
        private["display_name"],
        private["username"],
    )


def test_code_is_single_use(connect, client):
    connection = connect()
    with pytest.raises(errors.TikTokReconnectRequired) as caught:
        client.exchange_code(
            code=connection.callback["code"], redirect_uri=REDIRECT_URI, code_verifier=connection.verifier
        )
    assert caught.value.tiktok_code == "invalid_grant"
    assert caught.value.retryable is False
    assert caught.value.log_id and len(caught.value.log_id) >= 32


def _callback_code(client, verifier, encoding="hex"):
    url = client.authorize_url(
        redirect_uri=REDIRECT_URI,
        scopes=["user.info.basic"],
        state="s",
        code_verifier=verifier,
        challenge_encoding=encoding,
    )
    response = submit(url, read_form(WEB.get(url).text))
    return dict(httpx.URL(response.headers["location"]).params)["code"]


def test_wrong_verifier_is_refused(sim, client):
    code = _callback_code(client, oauth.new_code_verifier())
    with pytest.raises(errors.TikTokReconnectRequired) as caught:
        client.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=oauth.new_code_verifier())
    assert caught.value.detail == "Code verifier or code challenge is invalid."


def test_base64url_challenge_only_when_the_switch_allows_it(sim, client):
    verifier = oauth.new_code_verifier()
    # Given TikTok's documented hex reading only: a base64url challenge fails at the exchange
    code = _callback_code(client, verifier, encoding="base64url")
    with pytest.raises(errors.TikTokReconnectRequired):
        client.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)

    # When the simulator also accepts base64url (the other reading seen in the wild), it passes
    sim.configure(pkce_accept_base64url=True)
    code = _callback_code(client, verifier, encoding="base64url")
    assert client.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier).open_id


def test_missing_pkce_stops_at_the_authorize_page_when_required(sim, client):
    url = client.authorize_url(redirect_uri=REDIRECT_URI, scopes=["user.info.basic"], state="s")
    page = WEB.get(url)
    assert page.status_code == 400
    assert "Correct the following and try again: <strong>code_challenge</strong>" in page.text

    # With PKCE optional (TikTok's web documentation), the same request reaches consent
    sim.configure(pkce="optional")
    response = submit(url, read_form(WEB.get(url).text))
    code = dict(httpx.URL(response.headers["location"]).params)["code"]
    assert client.exchange_code(code=code, redirect_uri=REDIRECT_URI).open_id


@pytest.mark.parametrize(
    ("param", "value"),
    [("redirect_uri", "http://localhost:3000/other"), ("client_key", "nope"), ("scope", "video.delete")],
)
def test_authorize_page_refuses_bad_parameters(sim, param, value):
    params = {
        "client_key": TEST_CONFIG.client_key,
        "scope": "user.info.basic",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "code_challenge": oauth.code_challenge("v" * 43),
        "code_challenge_method": "S256",
        param: value,
    }
    page = WEB.get(f"{sim.url}/v2/auth/authorize/", params=params)
    assert page.status_code == 400
    assert f"<strong>{param}</strong>" in page.text


def test_cancel_redirects_with_access_denied(sim, client):
    url = client.authorize_url(
        redirect_uri=REDIRECT_URI, scopes=["user.info.basic"], state="xyz", code_verifier="v" * 43
    )
    response = submit(url, read_form(WEB.get(url).text), button="Cancel")
    params = dict(httpx.URL(response.headers["location"]).params)
    assert params["error"] == "access_denied" and params["state"] == "xyz" and "code" not in params


def test_redirect_uri_must_match_exactly_at_the_exchange(connect, client, sim):
    verifier = oauth.new_code_verifier()
    code = _callback_code(client, verifier)
    with pytest.raises(errors.TikTokClientMisconfigured) as caught:
        client.exchange_code(code=code, redirect_uri=REDIRECT_URI + "/", code_verifier=verifier)
    assert caught.value.detail == "Redirect_uri is not matched with the uri when requesting code."


@pytest.mark.parametrize("status", [200, 400])
def test_oauth_errors_are_read_from_the_body_whatever_the_status(sim, client, status):
    # Given TikTok answering OAuth errors with HTTP `status` (200 has been seen in the wild)
    sim.configure(oauth_error_status=status)

    # When a refresh token is unknown, the typed error comes from the body
    with pytest.raises(errors.TikTokReconnectRequired) as caught:
        client.refresh("rft.unknown")
    assert caught.value.http_status == status


def test_wrong_client_secret_is_a_configuration_error(sim, connect):
    from flowctory.adapters.tiktok.client import TikTokClient

    with (
        TikTokClient(
            client_key=TEST_CONFIG.client_key, client_secret="wrong", api_base_url=sim.url, auth_base_url=sim.url
        ) as bad,
        pytest.raises(errors.TikTokClientMisconfigured) as caught,
    ):
        bad.refresh("rft.whatever")
    assert caught.value.tiktok_code == "invalid_client" and caught.value.retryable is False


def test_refresh_under_the_2026_profile_rotates_strictly(sim, connect, client):
    # Given the 2026 lifetimes: 2 h access, 180 days refresh, strict rotation
    sim.configure(lifetime_profile="2026")
    first = connect().grant
    assert (first.expires_in, first.refresh_expires_in) == (7_200, 15_552_000)

    # When the app refreshes
    second = client.refresh(first.refresh_token)

    # Then the new pair replaces the old: a new refresh token, and the old one is dead at once
    assert second.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()
    assert second.access_token.get_secret_value() != first.access_token.get_secret_value()
    with pytest.raises(errors.TikTokReconnectRequired):
        client.refresh(first.refresh_token)
    assert client.refresh(second.refresh_token).open_id == first.open_id


def test_refresh_under_the_legacy_profile(sim, connect, client):
    # Given the long-standing lifetimes: 24 h access, 365 days refresh, no forced rotation
    sim.configure(lifetime_profile="legacy")
    first = connect().grant
    assert (first.expires_in, first.refresh_expires_in) == (86_400, 31_536_000)

    # When a day passes and the access token has expired
    sim.advance(86_400 + 1)
    with pytest.raises(errors.TikTokTokenInvalid) as caught:
        client.creator_info(first.access_token)
    assert caught.value.retryable is True

    # Then a refresh gives a working access token; the refresh token's lifetime counts down
    second = client.refresh(first.refresh_token)
    assert second.expires_in == 86_400
    assert 31_536_000 - 86_400 - 5 <= second.refresh_expires_in <= 31_536_000 - 86_400
    assert client.creator_info(second.access_token).creator_username
    assert client.refresh(first.refresh_token).open_id == first.open_id  # the old one still works here


def test_refresh_token_expires(sim, connect, client):
    sim.configure(lifetime_profile="2026")
    grant = connect().grant
    sim.advance(grant.refresh_expires_in + 1)
    with pytest.raises(errors.TikTokReconnectRequired):
        client.refresh(grant.refresh_token)


def test_revoke_kills_both_tokens_and_sends_authorization_removed(sim, connect, client, webhook_receiver):
    grant = connect().grant

    client.revoke(grant.access_token)

    with pytest.raises(errors.TikTokTokenInvalid):
        client.creator_info(grant.access_token)
    with pytest.raises(errors.TikTokReconnectRequired):
        client.refresh(grant.refresh_token)
    sim.wait_for(lambda: len(webhook_receiver.received) == 1)
    headers, body = webhook_receiver.received[0]
    verify_signature(headers.get("Tiktok-Signature"), body, TEST_CONFIG.client_secret)
    event = parse_event(body)
    assert (event.event, event.user_openid, event.content) == ("authorization.removed", grant.open_id, {"reason": 5})


def test_user_info_is_gated_by_scope(sim, connect, client):
    # Given a creator who unticked user.info.profile on the consent page
    grant = connect(uncheck=("user.info.profile",)).grant
    assert "user.info.profile" not in grant.scope

    # Then basic fields work, and profile fields are refused as a missing permission
    assert client.user_info(grant.access_token, fields=["display_name"]).display_name
    with pytest.raises(errors.TikTokScopeMissing) as caught:
        client.user_info(grant.access_token, fields=["display_name", "username"])
    assert caught.value.tiktok_code == "scope_permission_missed" and caught.value.http_status == 400


def test_endpoint_scope_missing_is_scope_not_authorized(sim, connect, client):
    grant = connect(scopes=("user.info.basic",)).grant
    with pytest.raises(errors.TikTokScopeMissing) as caught:
        client.creator_info(grant.access_token)
    assert (caught.value.tiktok_code, caught.value.http_status) == ("scope_not_authorized", 401)


def test_token_endpoint_is_form_only(sim):
    response = WEB.post(
        f"{sim.url}/v2/oauth/token/",
        json={
            "client_key": TEST_CONFIG.client_key,
            "client_secret": TEST_CONFIG.client_secret,
            "grant_type": "refresh_token",
        },
    )
    body = response.json()
    assert body["error"] == "invalid_request" and body["log_id"]


def test_client_takes_its_urls_from_settings(sim):
    from flowctory.adapters.tiktok.client import TikTokClient
    from flowctory.settings import TikTokSettings

    settings = TikTokSettings(
        TIKTOK_CLIENT_KEY=TEST_CONFIG.client_key,
        TIKTOK_SECRET_ARN="arn:aws:secretsmanager:eu-west-3:123456789012:secret:tiktok",
        TIKTOK_API_BASE_URL=sim.url,
        TIKTOK_AUTH_BASE_URL=sim.url + "/",
    )
    with TikTokClient.from_settings(settings, TEST_CONFIG.client_secret) as configured:
        url = configured.authorize_url(redirect_uri=REDIRECT_URI, scopes=["user.info.basic"], state="s")
        assert url.startswith(f"{sim.url}/v2/auth/authorize/?client_key={TEST_CONFIG.client_key}&scope=user.info.basic")
        with pytest.raises(errors.TikTokReconnectRequired):
            configured.refresh("rft.unknown")  # the secret was accepted: the refresh token was not

"""Fixtures of the TikTok connection suite: the auth and tiktok_oauth functions in-process on moto, a
browser that signs in and walks TikTok's consent page, and the TikTok simulator on a random port."""

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from flowctory import sessions, wiring
from flowctory.adapters.tiktok.client import RetryPolicy, TikTokClient
from sandbox.stack import LOCAL_SECRET_VALUES
from sandbox.tiktok_sim import SimulatorConfig, SimulatorServer, TikTokSimulator
from tests.auth.conftest import LOCAL_ORIGIN, PRODUCTION_ORIGIN, Answer, Browser, FrozenClock
from tests.tiktok.conftest import WEB, Sim, read_form, submit

CALLBACK_PATH = "/tiktok/callback"
CONFIG = SimulatorConfig(
    client_key="sbawflowctoryconnect",
    client_secret=LOCAL_SECRET_VALUES["TikTokClientSecret"],
    redirect_uris=[LOCAL_ORIGIN + CALLBACK_PATH, PRODUCTION_ORIGIN + CALLBACK_PATH],
    processing_delay_seconds=0.0,
    moderation_delay_seconds=0.0,
    lifetime_profile="2026",
)
# Plans with room for several accounts on the free plan (the limit itself has its own test).
ROOMY_PLANS = json.dumps(
    [{"id": "free", "name": "Free", "limits": {"tiktok_accounts": 3, "posts_per_month": 10, "retries_per_post": 1}}]
)


@pytest.fixture(scope="session")
def connect_sim_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(TikTokSimulator(CONFIG)) as server:
        yield server


@pytest.fixture
def sim(connect_sim_server: SimulatorServer) -> Sim:
    control = Sim(connect_sim_server.url, connect_sim_server.simulator)
    assert control.http.post("/_sim/reset").status_code == 200
    return control


@pytest.fixture
def clock() -> FrozenClock:
    from datetime import UTC, datetime

    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _environment(function_env, monkeypatch, sim: Sim, web_origin: str, plans: str) -> None:
    function_env("AuthFunction")
    function_env("TikTokOAuthFunction")
    monkeypatch.setenv("WEB_ORIGIN", web_origin)
    monkeypatch.setenv("STAGE", "dev" if web_origin.startswith("http://") else "prod")
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", CONFIG.client_key)
    monkeypatch.setenv("TIKTOK_API_BASE_URL", sim.url)
    monkeypatch.setenv("TIKTOK_AUTH_BASE_URL", sim.url)
    monkeypatch.setenv("PLANS_JSON", plans)
    wiring.reset()
    from flowctory import billing_wiring

    billing_wiring.reset()


@pytest.fixture
def env(aws, function_env, monkeypatch, sim, clock) -> FrozenClock:
    """Both functions' environment (sandbox stage, plain http), TikTok at the simulator, a frozen clock."""
    _environment(function_env, monkeypatch, sim, LOCAL_ORIGIN, ROOMY_PLANS)
    wiring.sessions().clock = clock
    wiring.accounts().reset_request_min_seconds = 0
    return clock


@pytest.fixture
def invoke(lambda_context) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """API Gateway's routing: /tiktok/* to the tiktok_oauth function, the rest to auth."""

    def call(event: dict[str, Any]) -> dict[str, Any]:
        if event["rawPath"].startswith("/tiktok/"):
            from functions.tiktok_oauth import app as tiktok_app

            return tiktok_app.lambda_handler(event, lambda_context)
        from functions.auth import app as auth_app

        return auth_app.lambda_handler(event, lambda_context)

    return call


@pytest.fixture
def new_browser(invoke) -> Callable[..., Browser]:
    def make(origin: str = LOCAL_ORIGIN) -> Browser:
        return Browser(invoke=invoke, origin=origin, secure=origin.startswith("https://"))

    return make


@pytest.fixture
def ada(env, new_browser) -> Browser:
    """A signed-up, signed-in creator."""
    browser = new_browser()
    assert browser.sign_up("ada@example.com").status == 201
    return browser


@pytest.fixture
def table(aws):
    return boto3.resource("dynamodb").Table(aws.ref("AppTable"))


@pytest.fixture
def tiktok(sim) -> Iterator[TikTokClient]:
    """A client of the same app, for checking tokens at the simulator."""
    with TikTokClient(
        client_key=CONFIG.client_key,
        client_secret=CONFIG.client_secret,
        api_base_url=sim.url,
        auth_base_url=sim.url,
        timeout=5.0,
        retry=RetryPolicy(attempts=1),
    ) as client:
        yield client


def consent(browser: Browser, *, creator: int = 0, uncheck: tuple[str, ...] = (), button: str = "Authorize") -> dict:
    """Start a connection and answer TikTok's consent page; the callback query TikTok redirects back with."""
    start = browser.request("GET", "/tiktok/connect", query={"callback_url": "/accounts"})
    assert start.status == 302, start.body
    url = start.headers["location"]
    page = WEB.get(url)
    assert page.status_code == 200, page.text
    form = read_form(page.text)
    chosen = form.radios["creator"][creator][0]
    redirect = submit(url, form, creator=chosen, uncheck=uncheck, button=button)
    assert redirect.status_code == 302, redirect.text
    location = urlsplit(redirect.headers["location"])
    assert location.path == CALLBACK_PATH
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def callback(browser: Browser, query: dict[str, str]) -> Answer:
    return browser.request("GET", CALLBACK_PATH, query=query)


def connect(browser: Browser, *, creator: int = 0) -> str:
    """A whole successful connection; the connected open_id."""
    answer = callback(browser, consent(browser, creator=creator))
    assert answer.status == 302, answer.body
    outcome = outcome_of(answer)
    assert outcome["tiktok_connect"] == "connected", outcome
    return outcome["open_id"]


def outcome_of(answer: Answer) -> dict[str, str]:
    location = urlsplit(answer.headers["location"])
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def session_claim(answer: Answer) -> bool:
    """The "TikTok connected" claim of the session cookie this answer set."""
    service = wiring.sessions()
    token = next(
        raw.split("=", 1)[1].split(";", 1)[0] for raw in answer.set_cookies if raw.startswith("authjs.session")
    )
    return sessions.decode_session(service.keys(), token, now=service.clock()).tiktok_connected

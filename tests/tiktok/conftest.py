"""Fixtures of the TikTok suite: real video files made with PyAV, the simulator on a random port,
a client pointed at it, a webhook receiver, and a browser-like walk through the authorize page."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from flowctory.adapters.tiktok import oauth
from flowctory.adapters.tiktok.client import RetryPolicy, TikTokClient
from flowctory.models.tiktok import TokenGrant
from sandbox.tiktok_sim import SimulatorConfig, SimulatorServer, TikTokSimulator
from tests.tiktok import videos

REDIRECT_URI = "http://localhost:3000/api/tiktok/callback"
ALL_SCOPES = ("user.info.basic", "user.info.profile", "video.publish", "video.upload")
# One HTTP client for the whole suite (building an httpx client costs ~0.1 s: it loads CA certificates).
WEB = httpx.Client(timeout=10.0)
TEST_CONFIG = SimulatorConfig(
    processing_delay_seconds=0.0,
    moderation_delay_seconds=0.05,
    webhook_retry_base_seconds=0.05,
    redirect_uris=[REDIRECT_URI],
)


@pytest.fixture(scope="session")
def video_files(tmp_path_factory: pytest.TempPathFactory) -> videos.VideoSet:
    """Small real videos (and broken ones), generated once per session with PyAV."""
    return videos.make_all(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(TikTokSimulator(TEST_CONFIG)) as server:
        yield server
    WEB.close()


class _Prefixed:
    """WEB with the simulator's base URL in front of each path."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return WEB.get(self.base + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return WEB.post(self.base + path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return WEB.patch(self.base + path, **kwargs)


class Sim:
    """The simulator's control API, called over HTTP like any other client would."""

    def __init__(self, url: str, simulator: TikTokSimulator) -> None:
        self.url = url
        self.simulator = simulator
        self.http = _Prefixed(url)

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.http.patch("/_sim/config", json=changes)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def fault(self, endpoint: str, **spec: Any) -> None:
        response = self.http.post("/_sim/faults", json={"endpoint": endpoint, **spec})
        assert response.status_code == 201, response.text

    def faults(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sim/faults").json())

    def advance(self, seconds: float) -> None:
        assert self.http.post("/_sim/clock", json={"advance_seconds": seconds}).status_code == 200

    def creator(self, open_id: str, **changes: Any) -> None:
        assert self.http.patch(f"/_sim/creators/{open_id}", json=changes).status_code == 200

    def creators(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sim/creators").json())

    def publish(self, publish_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/_sim/publishes/{publish_id}").json())

    def published(self) -> dict[str, Any]:
        return dict(self.http.get("/_sim/published").json())

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sim/webhooks").json())

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until processing and webhook deliveries due now are done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http.get("/_sim/idle").json()["idle"]:
                return
            time.sleep(0.01)
        raise AssertionError("the simulator did not settle")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError("condition not met in time")


@pytest.fixture
def sim(sim_server: SimulatorServer) -> Iterator[Sim]:
    """The shared simulator, reset to TEST_CONFIG and an empty state for this test."""
    control = Sim(sim_server.url, sim_server.simulator)
    assert control.http.post("/_sim/reset").status_code == 200
    yield control


@pytest.fixture(scope="session")
def shared_client(sim_server: SimulatorServer) -> Iterator[TikTokClient]:
    config = TEST_CONFIG
    with TikTokClient(
        client_key=config.client_key,
        client_secret=config.client_secret,
        api_base_url=sim_server.url,
        auth_base_url=sim_server.url,
        timeout=5.0,
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05),
    ) as tiktok:
        yield tiktok


@pytest.fixture
def client(sim: Sim, shared_client: TikTokClient) -> TikTokClient:
    """A client of the app the simulator knows, talking to the freshly reset simulator."""
    return shared_client


# --- the authorize page, read and submitted as a browser would -----------------------------------


@dataclass
class Form:
    action: str = ""
    method: str = "get"
    fields: list[tuple[str, str]] = field(default_factory=list)
    radios: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, label


class FormReader(HTMLParser):
    """Collects the page's form: hidden inputs, radios, checkboxes and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.form = Form()
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form.action, self.form.method = a.get("action", ""), a.get("method", "get").lower()
        elif tag == "input" and a.get("type") == "hidden":
            self.form.fields.append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("type") == "radio":
            self.form.radios.setdefault(a["name"], []).append((a.get("value", ""), "checked" in a))
        elif tag == "input" and a.get("type") == "checkbox":
            self.form.checkboxes.append((a["name"], a.get("value", ""), "checked" in a))
        elif tag == "button":
            self._button = (a.get("name", ""), a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.form.buttons.append((*self._button, data.strip()))
            self._button = None


def read_form(html: str) -> Form:
    reader = FormReader()
    reader.feed(html)
    return reader.form


def submit(
    page_url: str,
    form: Form,
    *,
    creator: str | None = None,
    uncheck: tuple[str, ...] = (),
    button: str = "Authorize",
) -> httpx.Response:
    """Submit like a browser: hidden fields, the checked radio (or `creator`), checked boxes, the button."""
    data: list[tuple[str, str]] = list(form.fields)
    for name, options in form.radios.items():
        chosen = creator or next(value for value, checked in options if checked)
        data.append((name, chosen))
    data += [(name, value) for name, value, checked in form.checkboxes if checked and value not in uncheck]
    data += [(name, value) for name, value, label in form.buttons if label == button and name]
    encoded: dict[str, list[str]] = {}
    for name, value in data:
        encoded.setdefault(name, []).append(value)
    return WEB.post(urljoin(page_url, form.action), data=encoded, follow_redirects=False)


@dataclass
class Connection:
    grant: TokenGrant
    verifier: str
    callback: dict[str, str]


@pytest.fixture
def connect(sim: Sim, client: TikTokClient) -> Callable[..., Connection]:
    """The whole OAuth round trip with PKCE: authorize page, consent, callback, code exchange."""

    def run(creator_index: int = 0, scopes: tuple[str, ...] = ALL_SCOPES, uncheck: tuple[str, ...] = ()) -> Connection:
        verifier = oauth.new_code_verifier()
        url = client.authorize_url(redirect_uri=REDIRECT_URI, scopes=scopes, state="state-123", code_verifier=verifier)
        page = WEB.get(url)
        assert page.status_code == 200, page.text
        form = read_form(page.text)
        creator = form.radios["creator"][creator_index][0]
        redirect = submit(url, form, creator=creator, uncheck=uncheck)
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(REDIRECT_URI + "?")
        callback = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        grant = client.exchange_code(code=callback["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier)
        return Connection(grant, verifier, callback)

    return run


# --- a webhook receiver (the app's side) ----------------------------------------------------------


class WebhookReceiver:
    """Records every POST; answers each with the next status of `statuses` (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/tiktok"

    @Request.application  # type: ignore[misc]
    def _app(self, request: Request) -> Response:
        self.received.append((dict(request.headers), request.get_data()))
        return Response("", status=self.statuses.pop(0) if self.statuses else 200)

    def __enter__(self) -> "WebhookReceiver":
        import threading

        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook_receiver(sim: Sim) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        sim.configure(webhook_url=receiver.url)
        yield receiver

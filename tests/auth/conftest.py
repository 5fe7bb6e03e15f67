"""Fixtures for the auth suite: the auth function on moto with a frozen clock, a browser-like client, the outbox."""

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest

from flowctory import wiring
from sandbox.events import http_api_event
from sandbox.stack import ACCOUNT_ID, REGION

LOCAL_ORIGIN = "http://localhost:3000"
PRODUCTION_ORIGIN = "https://app.flowctory.com"
STRONG_PASSWORD = "correct horse battery staple"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class FrozenClock:
    """A clock the test moves by hand (injected as the sessions' clock)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    set_cookies: list[str]

    def cookie(self, name: str) -> SimpleCookie:
        for raw in self.set_cookies:
            if raw.split("=", 1)[0] == name:
                parsed = SimpleCookie()
                parsed.load(raw)
                return parsed
        raise AssertionError(f"no Set-Cookie for {name} in {[c.split('=', 1)[0] for c in self.set_cookies]}")

    @property
    def cookie_names(self) -> list[str]:
        return [raw.split("=", 1)[0] for raw in self.set_cookies]

    @property
    def error_code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


@dataclass
class Browser:
    """Calls the auth handler as a browser on the web origin would: it keeps cookies and sends the CSRF header."""

    invoke: Callable[[dict[str, Any]], dict[str, Any]]
    origin: str
    source_ip: str = "203.0.113.7"
    user_agent: str = "Mozilla/5.0 (pytest browser)"
    jar: dict[str, str] = field(default_factory=dict)
    secure: bool = False

    def cookie_name(self, name: str) -> str:
        if not self.secure:
            return name
        return ("__Host-" if name == "authjs.csrf-token" else "__Secure-") + name

    @property
    def csrf_cookie(self) -> str | None:
        return self.jar.get(self.cookie_name("authjs.csrf-token"))

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        csrf: str | bool | None = True,
        source_ip: str | None = None,
    ) -> Answer:
        sent = {"content-type": "application/json", "origin": self.origin, **(headers or {})}
        if method in UNSAFE and csrf is True:
            if self.csrf_cookie is None:
                self.request("GET", "/auth/csrf")
            sent["x-csrf-token"] = self.csrf_cookie or ""
        elif isinstance(csrf, str):
            sent["x-csrf-token"] = csrf
        event = http_api_event(
            method,
            path,
            headers={name: value for name, value in sent.items() if value is not None},
            cookies=[f"{name}={value}" for name, value in self.jar.items()] or None,
            query=query,
            body=json.dumps(json_body) if json_body is not None else None,
            source_ip=source_ip or self.source_ip,
            user_agent=self.user_agent,
        )
        response = self.invoke(event)
        set_cookies = list(response.get("cookies") or [])
        for raw in set_cookies:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in raw:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        body = response.get("body")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        headers_out = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        return Answer(status=response["statusCode"], body=parsed, headers=headers_out, set_cookies=set_cookies)

    def sign_up(self, email: str, password: str = STRONG_PASSWORD, **overrides: Any) -> Answer:
        body = {
            "email": email,
            "password": password,
            "name": "Ada Lovelace",
            "timezone": "Europe/Paris",
            "age_confirmed": True,
            "accept_terms": True,
            **overrides,
        }
        return self.request("POST", "/auth/signup", json_body=body)

    def log_in(self, email: str, password: str = STRONG_PASSWORD, **kwargs: Any) -> Answer:
        return self.request("POST", "/auth/login", json_body={"email": email, "password": password}, **kwargs)


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    text: str

    def link(self) -> str:
        match = re.search(r"https?://\S+", self.text)
        assert match, self.text
        return match.group(0)

    def token(self) -> str:
        match = re.search(r"[?&]token=([^\s&]+)", self.text)
        assert match, self.text
        return match.group(1)


class Outbox:
    """The e-mails SES (moto) received, as the sandbox's outbox shows them."""

    def _backend(self) -> Any:
        from moto.ses.models import ses_backends

        return ses_backends[ACCOUNT_ID][REGION]

    @property
    def mails(self) -> list[SentMail]:
        messages = self._backend().sent_messages
        return [SentMail(to=m.destinations["ToAddresses"][0], subject=m.subject, text=m.body) for m in messages]

    def to(self, address: str) -> list[SentMail]:
        return [mail for mail in self.mails if mail.to == address]

    def last_to(self, address: str) -> SentMail:
        mails = self.to(address)
        assert mails, f"no e-mail to {address}; outbox: {[(m.to, m.subject) for m in self.mails]}"
        return mails[-1]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _start(function_env, monkeypatch, clock: FrozenClock, web_origin: str) -> None:
    function_env("AuthFunction")
    monkeypatch.setenv("WEB_ORIGIN", web_origin)
    monkeypatch.setenv("STAGE", "dev" if web_origin.startswith("http://") else "prod")
    wiring.reset()
    wiring.sessions().clock = clock
    # Tests do not wait out the anti-timing floor of reset requests (a unit test covers it).
    wiring.accounts().reset_request_min_seconds = 0


@pytest.fixture
def auth_env(aws, function_env, monkeypatch, clock) -> Iterator[FrozenClock]:
    """The auth function's environment on moto, served over plain http (the sandbox stage)."""
    _start(function_env, monkeypatch, clock, LOCAL_ORIGIN)
    yield clock


@pytest.fixture
def production_env(aws, function_env, monkeypatch, clock) -> Iterator[FrozenClock]:
    """The same, served over https (production: prefixed, Secure cookies)."""
    _start(function_env, monkeypatch, clock, PRODUCTION_ORIGIN)
    yield clock


@pytest.fixture
def invoke(lambda_context) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        from functions.auth import app

        return app.lambda_handler(event, lambda_context)

    return call


@pytest.fixture
def browser(auth_env, invoke) -> Browser:
    return Browser(invoke=invoke, origin=LOCAL_ORIGIN)


@pytest.fixture
def new_browser(invoke) -> Callable[..., Browser]:
    def make(origin: str = LOCAL_ORIGIN, **kwargs: Any) -> Browser:
        return Browser(invoke=invoke, origin=origin, secure=origin.startswith("https://"), **kwargs)

    return make


@pytest.fixture
def outbox(aws) -> Outbox:
    return Outbox()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the functions' Powertools logger writes (JSON lines), captured in memory."""
    from flowctory.observability import logger

    handler = logger.registered_handler
    captured = io.StringIO()
    previous = handler.setStream(captured)  # type: ignore[attr-defined]
    yield captured
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def table(aws):
    import boto3

    return boto3.resource("dynamodb").Table(aws.ref("AppTable"))

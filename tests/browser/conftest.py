"""The web console in a real browser: Debian's Chromium driven by Playwright, against a sandbox started here.

One sandbox (moto, every function, the TikTok and Google/Facebook simulators, the console's static files)
serves each test module on random ports; each test gets a fresh browser context (no cookies) and signs up
its own user. The API allows 10 sign-ups an hour from one IP, and every browser here is 127.0.0.1: keep a
module under 10 sign-ups (a new module gets a new sandbox, hence a new count). Chromium is installed by
`make` (never `playwright install`): when it is missing these tests fail, they do not skip.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from sandbox.server import Sandbox, SandboxConfig
from sandbox.template import ROOT
from tests.browser.steps import Console
from tests.helpers.scheduler_clock import SchedulerClock
from tests.tiktok.videos import encode

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("FLOWCTORY_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "build" / "browser-screenshots"
TIMEZONE = "Europe/Paris"
# A function's first call in the sandbox imports it; on a busy 2-core machine that can take seconds.
expect.set_options(timeout=15_000)


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is missing ({CHROMIUM}): the browser tests need Debian's chromium package. "
            "`make test` installs it; or run `apt-get install -y chromium`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def scheduler_clock() -> SchedulerClock:
    """The sandbox scheduler's clock: a test moves it to a post's time instead of waiting for it."""
    return SchedulerClock()


@pytest.fixture(scope="module")
def console_sandbox(scheduler_clock: SchedulerClock) -> Iterator[Sandbox]:
    config = SandboxConfig(
        port=0,
        aws_port=0,
        tiktok_port=0,
        idp_port=0,
        load_services=True,
        static_dir=ROOT / "web",
        scheduler_interval=0.2,
        ttl_sweep_interval=3600.0,
        lifecycle_sweep_interval=3600.0,
        clock=scheduler_clock,
    )
    with Sandbox(config) as running:
        assert {service.name for service in running.services} >= {"tiktok", "idp"}, running.services
        yield running


@pytest.fixture(scope="module")
def tiktok_sim(console_sandbox: Sandbox) -> Iterator[httpx.Client]:
    """The TikTok simulator's control API (/_sim/...)."""
    url = next(service.url for service in console_sandbox.services if service.name == "tiktok")
    with httpx.Client(base_url=str(url), timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real H.264 MP4s: two seconds, portrait, 30 fps, as a phone would record them."""
    folder = tmp_path_factory.mktemp("console-videos")
    clip = encode(
        folder / "clip.mp4", fmt="mp4", codec="libx264", width=540, height=960, fps=30, seconds=2, faststart=True
    )
    return {"clip": clip}


@pytest.fixture
def console(browser: Browser, console_sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[Console]:
    context = browser.new_context(timezone_id=TIMEZONE, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    driver = Console(
        page=page,
        context=context,
        origin=console_sandbox.gateway_url,
        user_tag=name[:40],
        screenshots=SCREENSHOTS,
    )
    context.on("request", lambda sent: driver.requests.append(sent))
    try:
        yield driver
        if request.node.stash.get(FAILED, False):  # what the page showed and asked for, kept for the reader
            driver.screenshot(f"failed-{name}")
            log = "\n".join(f"{sent.resource_type} {sent.method} {sent.url}" for sent in driver.requests)
            (SCREENSHOTS / f"failed-{name}.requests.txt").write_text(log + "\n", encoding="utf-8")
    finally:
        context.close()
    assert not errors, f"the console raised in the page: {errors}"

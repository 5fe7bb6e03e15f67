"""What a person does in the console, as reusable steps: sign up, follow mailed links, connect TikTok."""

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import BrowserContext, Page, Request, expect

PASSWORD = "correct horse battery staple"
# The TikTok simulator's creators (sandbox/tiktok_sim/config.py), as their consent page labels them.
AVA = "Ava \\(public\\)"  # every interaction allowed, public options
CLEO = "Cleo"  # comments, duet and stitch turned off in TikTok
DAN = "Dan"  # 60 s maximum; the tests lower it further
DAN_OPEN_ID = "sim-0004-short-9e8d-7c6b-5a4f3e2d1c00"
_numbers = itertools.count(1)


@dataclass
class Console:
    page: Page
    context: BrowserContext
    origin: str  # the console's own origin, e.g. http://localhost:41234
    user_tag: str
    screenshots: Path
    requests: list[Request] = field(default_factory=list)
    email: str = ""

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.origin}/#/{route}")

    def heading(self, text: str) -> None:
        expect(self.page.get_by_role("heading", level=1)).to_have_text(text)

    def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)

    # --- accounts ---

    def sign_up(self, *, name: str = "Ada") -> str:
        self.email = f"{self.user_tag}-{next(_numbers)}@example.com"
        page = self.page
        self.open("sign-up")
        self.heading("Create your account")
        page.get_by_label("Your name").fill(name)
        page.get_by_label("E-mail").fill(self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("I am at least 16").check()
        page.get_by_label("I accept the terms").check()
        page.get_by_role("button", name="Create account").click()
        self.heading("TikTok accounts")
        return self.email

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        page = self.page
        self.heading("Sign in")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        self.heading("TikTok accounts")

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").first.click()
        self.heading("Sign in")

    def mailed_link(self, subject_contains: str) -> str:
        """The link of the newest mail to this user whose subject says `subject_contains` (sandbox outbox)."""
        messages = httpx.get(f"{self.origin.replace('localhost', '127.0.0.1')}/_sandbox/outbox", timeout=10).json()[
            "messages"
        ]
        for message in reversed(messages):
            if self.email in message["to"] and subject_contains.lower() in message["subject"].lower():
                links: list[str] = message["links"]
                return links[0]
        raise AssertionError(f"no mail about {subject_contains!r} to {self.email}")

    # --- TikTok ---

    def connect_tiktok(self, creator: str) -> None:
        """Connect the simulator's creator whose label contains `creator`, from the accounts screen."""
        page = self.page
        self.open("accounts")
        page.get_by_role("link", name=re.compile("Connect (a|another) TikTok account")).click()
        page.wait_for_url(re.compile(r".*/v2/auth/authorize/.*"))
        page.get_by_label(re.compile(creator)).check()
        page.get_by_role("button", name="Authorize").click()
        expect(page.get_by_text("Your TikTok account is connected.")).to_be_visible()
        self.heading("TikTok accounts")

    def compose(self) -> None:
        self.page.get_by_role("link", name="New post").first.click()
        self.heading("New post")
        expect(self.page.get_by_test_id("creator-nickname")).to_be_visible()

    def upload(self, video: Path) -> None:
        page = self.page
        page.get_by_label("Video (MP4, MOV or WebM)").set_input_files(str(video))
        expect(page.get_by_text("uploaded (100 %)")).to_be_visible()

    def schedule_in_an_hour(self, video: Path, *, caption: str, audience: str) -> None:
        """Compose a post of `video` at the picker's default time (an hour from now) and land on the history."""
        page = self.page
        self.compose()
        self.upload(video)
        page.get_by_label("Caption").fill(caption)
        page.get_by_label(audience).check()
        page.get_by_label("Schedule for later").check()
        page.get_by_role("button", name="Schedule post").click()
        self.heading("History")

    # --- what left the page ---

    def foreign_requests(self) -> list[tuple[str, str, str]]:
        """(resource type, method, URL) of every request not to the console's origin (blob: and data: are local)."""
        own = urlsplit(self.origin)
        found = []
        for sent in self.requests:
            parts = urlsplit(sent.url)
            if parts.scheme in {"blob", "data"}:
                continue
            if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
                found.append((sent.resource_type, sent.method, sent.url))
        return found

"""The product, end to end, in the sandbox `make dev` starts: every step over real HTTP.

A new user signs up and confirms the mailed link, connects a TikTok account on the simulator's
consent page, uploads a real MP4 straight to S3 with the presigned form, schedules it two minutes
ahead, and sees it published once, with TikTok's post id, the video gone from the bucket and the
post's metadata due to expire 90 days after publication (promises P07, P08, P14, P20).

The scheduler's clock is the only thing moved by hand: it is set past the post's time instead
of waiting two real minutes. Everything else (handlers, moto, the simulator, webhooks) runs on
the real clock.
"""

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from sandbox.server import Sandbox
from tests.helpers.scheduler_clock import SchedulerClock
from tests.sandbox.conftest import sandbox_config
from tests.tiktok.conftest import read_form
from tests.tiktok.videos import Video, VideoSet

PASSWORD = "correct horse battery staple"
CREATOR_OPEN_ID = "sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"
OTHER_CREATOR_OPEN_ID = "sim-0003-noduet-1a2b-3c4d-5e6f7a8b9c00"


@pytest.fixture(scope="module")
def shared_scheduler_clock() -> SchedulerClock:
    return SchedulerClock()


@pytest.fixture
def scheduler_clock(shared_scheduler_clock: SchedulerClock) -> Iterator[SchedulerClock]:
    """Each test starts on the real clock: a clock left ahead would fire the next test's schedules early."""
    shared_scheduler_clock.reset()
    yield shared_scheduler_clock
    shared_scheduler_clock.reset()


@pytest.fixture(scope="module")
def product(shared_scheduler_clock: SchedulerClock) -> Iterator[Sandbox]:
    """The sandbox as `make dev` runs it (simulators included), on free ports, scheduler polling fast."""
    config = sandbox_config(
        load_services=True,
        tiktok_port=0,
        idp_port=0,
        extra_functions=None,
        extra_routes=(),
        clock=shared_scheduler_clock,
    )
    with Sandbox(config) as running:
        yield running


@dataclass
class Creator:
    """A browser on the console's origin: keeps cookies, sends the Origin and the CSRF header."""

    http: httpx.Client
    origin: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"origin": self.origin, **kwargs.pop("headers", {})}
        if method not in ("GET", "HEAD"):
            headers["x-csrf-token"] = self.csrf_token()
        return self.http.request(method, path, headers=headers, **kwargs)

    def csrf_token(self) -> str:
        token = self.http.cookies.get("authjs.csrf-token")
        if token is None:
            self.http.get("/auth/csrf", headers={"origin": self.origin}).raise_for_status()
            token = self.http.cookies["authjs.csrf-token"]
        return token


@pytest.fixture
def new_creator(product: Sandbox) -> Iterator[Callable[[], Creator]]:
    clients: list[httpx.Client] = []

    def make() -> Creator:
        # The gateway binds 127.0.0.1; cookies are host-only, so one host name throughout.
        client = httpx.Client(base_url=product.gateway_url.replace("localhost", "127.0.0.1"), timeout=30)
        clients.append(client)
        return Creator(client, origin=product.gateway_url)

    yield make
    for client in clients:
        client.close()


def mails_to(product: Sandbox, address: str) -> list[dict[str, Any]]:
    outbox = httpx.get(product.gateway_url.replace("localhost", "127.0.0.1") + "/_sandbox/outbox").json()
    return [mail for mail in outbox["messages"] if address in mail["to"]]


def sign_up_and_verify(product: Sandbox, creator: Creator, email: str) -> str:
    answer = creator.call(
        "POST",
        "/auth/signup",
        json={
            "email": email,
            "password": PASSWORD,
            "name": "Ada Lovelace",
            "timezone": "Europe/Paris",
            "age_confirmed": True,
            "accept_terms": True,
        },
    )
    assert answer.status_code == 201, answer.text
    [verification] = [mail for mail in mails_to(product, email) if "/verify-email" in " ".join(mail["links"])]
    link = next(link for link in verification["links"] if "/verify-email" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    confirmed = creator.call("POST", "/auth/verify-email", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    return str(answer.json()["user"]["id"])


def connect_tiktok(creator: Creator, open_id: str) -> None:
    """/tiktok/connect → the simulator's consent page → authorize → /tiktok/callback → the console."""
    started = creator.call("GET", "/tiktok/connect", params={"callback_url": "/accounts"})
    assert started.status_code == 302, started.text
    authorize_url = started.headers["location"]
    page = httpx.get(authorize_url)
    assert page.status_code == 200, page.text
    form = read_form(page.text)
    fields: dict[str, list[str]] = {}
    for name, value in [*form.fields, ("creator", open_id), ("decision", "authorize")]:
        fields.setdefault(name, []).append(value)
    fields["granted_scope"] = [value for _, value, checked in form.checkboxes if checked]
    consent = httpx.post(httpx.URL(authorize_url).join(form.action), data=fields)
    assert consent.status_code == 302, consent.text
    callback = httpx.URL(consent.headers["location"])
    back = creator.call("GET", callback.path, params=dict(callback.params))
    assert back.status_code in (302, 303), back.text
    assert "/accounts" in back.headers["location"]
    assert "error" not in parse_qs(urlsplit(back.headers["location"]).query)


def upload(creator: Creator, video: Video) -> str:
    data = video.data
    ticket = creator.call(
        "POST", "/uploads", json={"filename": video.path.name, "content_type": video.content_type, "size": len(data)}
    )
    assert ticket.status_code == 201, ticket.text
    form = ticket.json()
    sent = httpx.post(form["url"], data=form["fields"], files={"file": (video.path.name, data, video.content_type)})
    assert sent.status_code in (200, 201, 204), sent.text
    return str(form["upload_id"])


def schedule(creator: Creator, upload_id: str, open_id: str, scheduled_at: str) -> dict[str, Any]:
    created = creator.call(
        "POST",
        "/posts",
        json={
            "upload_id": upload_id,
            "account": open_id,
            "caption": "Sunset over the bay #sea",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "scheduled_at": scheduled_at,
            "consent": True,
        },
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def finished(creator: Creator, post_id: str) -> dict[str, Any]:
    """The post once it is published or failed (the console polls the same route)."""
    return wait_for(
        lambda: (body := creator.call("GET", f"/posts/{post_id}").json())["status"] in ("published", "failed") and body,
        seconds=60,
        what=f"post {post_id} to finish",
    )


def simulator_publishes(product: Sandbox, open_id: str) -> list[dict[str, Any]]:
    simulator = next(service.url for service in product.services if service.name == "tiktok")
    return [publish for publish in httpx.get(f"{simulator}/_sim/publishes").json() if publish["open_id"] == open_id]


def wait_for(check: Callable[[], Any], *, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def test_p07_p08_p14_p20_a_new_user_schedules_a_real_mp4_two_minutes_ahead_and_sees_it_published_once(
    product: Sandbox, new_creator: Callable[[], Creator], scheduler_clock: SchedulerClock, video_files: VideoSet
):
    # Given a user who signed up, confirmed their address and connected a TikTok account
    creator = new_creator()
    user_id = sign_up_and_verify(product, creator, "ada.e2e@example.com")
    connect_tiktok(creator, CREATOR_OPEN_ID)
    accounts = creator.call("GET", "/tiktok/accounts").json()["accounts"]
    assert [(account["open_id"], account["status"]) for account in accounts] == [(CREATOR_OPEN_ID, "active")]
    info = creator.call("GET", f"/tiktok/accounts/{CREATOR_OPEN_ID}/creator-info")
    assert info.status_code == 200, info.text
    assert "PUBLIC_TO_EVERYONE" in info.json()["privacy_level_options"]

    # When they upload a real MP4 and schedule it two minutes ahead
    upload_id = upload(creator, video_files.mp4)
    due = (datetime.now(UTC) + timedelta(minutes=2)).replace(microsecond=0)
    post_id = schedule(creator, upload_id, CREATOR_OPEN_ID, due.isoformat())["id"]

    # Then nothing happens a minute before its time
    scheduler_clock.jump_to(due - timedelta(minutes=1))
    time.sleep(1.0)
    assert creator.call("GET", f"/posts/{post_id}").json()["status"] == "pending"

    # And once its time has come, it is published by the scheduler's own invocation
    scheduler_clock.jump_to(due + timedelta(seconds=1))
    post = finished(creator, post_id)
    assert post["status"] == "published", post
    assert post["tiktok_post_id"]
    assert post["failure"] is None

    # Exactly once on TikTok's side
    [publish] = simulator_publishes(product, CREATOR_OPEN_ID)
    assert publish["publish_id"] == post["publish_id"]
    assert publish["post_id"] == post["tiktok_post_id"]
    assert publish["sha256"] == hashlib.sha256(video_files.mp4.data).hexdigest()
    assert publish["post_info"]["title"] == "Sunset over the bay #sea"

    # The video is gone from the bucket, and the post's metadata expires 90 days after publication
    bucket = product.stack.ref("MediaBucket")
    with pytest.raises(ClientError) as missing:
        product.client("s3").head_object(Bucket=bucket, Key=f"videos/{user_id}/{upload_id}")
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    published_at = datetime.fromisoformat(post["published_at"])
    assert datetime.fromisoformat(post["expires_at"]) == published_at + timedelta(days=90)
    # and its schedule is gone too: nothing can fire it again
    group = product.stack.ref("PostScheduleGroup")
    names = [schedule["Name"] for schedule in product.client("scheduler").list_schedules(GroupName=group)["Schedules"]]
    assert not [name for name in names if post_id in name]

    # History shows it, newest first, with the link to the TikTok post once public
    history = creator.call("GET", "/posts").json()["items"]
    assert [item["id"] for item in history] == [post_id]
    assert history[0]["uploaded_bytes"] == history[0]["video"]["size"] == len(video_files.mp4.data)
    assert history[0]["tiktok_post_url"].endswith(f"/video/{post['tiktok_post_id']}")


def test_an_init_answer_lost_on_the_way_back_is_retried_by_a_follow_up_schedule_and_posts_once(
    product: Sandbox, new_creator: Callable[[], Creator], scheduler_clock: SchedulerClock, video_files: VideoSet
):
    """The sandbox's real scheduler, not a test's direct call, delivers the follow-up (about 30 s)."""
    # Given a connected creator, and TikTok creating the next publish but its answer never arriving
    creator = new_creator()
    sign_up_and_verify(product, creator, "grace.e2e@example.com")
    connect_tiktok(creator, OTHER_CREATOR_OPEN_ID)
    simulator = next(service.url for service in product.services if service.name == "tiktok")
    fault = {"endpoint": "video_init", "status": 500, "after": True}
    assert httpx.post(f"{simulator}/_sim/faults", json=fault).status_code == 201

    # When they publish a video now
    post_id = schedule(creator, upload(creator, video_files.mp4), OTHER_CREATOR_OPEN_ID, "now")["id"]

    # Then the first run hands over to a follow-up schedule (Lambda does not sleep), still processing
    waiting = wait_for(
        lambda: (body := creator.call("GET", f"/posts/{post_id}").json())["attempts"] >= 1 and body,
        seconds=30,
        what="the first attempt",
    )
    assert waiting["status"] == "processing"
    # ... which fires at its time, 30 s later (waited for: the attempt's lease runs on the real clock),
    # and publishes once
    post = finished(creator, post_id)
    assert post["status"] == "published", post
    publishes = simulator_publishes(product, OTHER_CREATOR_OPEN_ID)
    assert len(publishes) == 2  # the lost one exists at TikTok, but no byte ever reached it
    assert [p["publish_id"] for p in publishes if p["received_bytes"]] == [post["publish_id"]]
    assert [p["post_id"] for p in publishes if p["post_id"]] == [post["tiktok_post_id"]]


def test_p24_deleting_the_account_in_the_sandbox_erases_it_at_once(
    product: Sandbox, new_creator: Callable[[], Creator], scheduler_clock: SchedulerClock, video_files: VideoSet
):
    """DELETE /me starts the purge function at once (Lambda's asynchronous Invoke, answered by the sandbox)."""
    # Given a user with a connected account and an uploaded video
    creator = new_creator()
    user_id = sign_up_and_verify(product, creator, "linus.e2e@example.com")
    connect_tiktok(creator, "sim-0002-private-7c1e-8d2f-6a3b4c5d6e70")
    upload(creator, video_files.mp4)

    # When they delete their account
    answer = creator.call("DELETE", "/me", json={"current_password": PASSWORD})
    assert answer.status_code == 202, answer.text

    # Then, without waiting for the 15-minute sweep, nothing of theirs is left and they are told
    table = product.client("dynamodb")
    table_name = product.stack.ref("AppTable")

    def erased() -> bool:
        items = table.query(
            TableName=table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}},
        )["Items"]
        listing = product.client("s3").list_objects_v2(
            Bucket=product.stack.ref("MediaBucket"), Prefix=f"videos/{user_id}/"
        )
        return not items and listing.get("KeyCount", 0) == 0

    wait_for(erased, seconds=30, what="the erasure")
    wait_for(
        lambda: any(
            "deleted" in (mail["subject"] or "").lower() for mail in mails_to(product, "linus.e2e@example.com")
        ),
        seconds=10,
        what="the confirmation mail",
    )
    assert creator.call("GET", "/me").status_code == 401

"""Connecting TikTok, the composer and its Direct Post rules, upload, calendar and history, in Chromium."""

import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Request, expect

from flowctory import cookies
from flowctory.domain import compose as rules
from sandbox.server import Sandbox
from tests.browser.conftest import TIMEZONE
from tests.browser.steps import AVA, CLEO, DAN, DAN_OPEN_ID, Console
from tests.helpers.scheduler_clock import SchedulerClock

pytestmark = pytest.mark.e2e

DISCLOSURE_HINT = "You need to indicate if your content promotes yourself, a third party, or both."
AVA_OPEN_ID = "sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"


def test_connect_compose_upload_with_progress_publish_now_and_see_it_published(
    console: Console, videos: dict[str, Path]
) -> None:
    page = console.page
    console.sign_up()
    console.connect_tiktok(AVA)
    expect(page.locator("li[data-open-id]")).to_contain_text("Ava (public)")
    console.screenshot("accounts")

    # When they compose a post with a real MP4
    console.compose()
    expect(page.get_by_test_id("creator-nickname")).to_have_text("Ava (public)")
    console.upload(videos["clip"])

    # Then the progress bar was fed by the browser's upload events and reached 100 %
    value, maximum = page.locator("progress").first.evaluate("bar => [bar.value, bar.max]")
    assert value == maximum > videos["clip"].stat().st_size  # the whole form: the fields and the file
    expect(page.locator("video.preview")).to_be_visible()
    page.get_by_label("Caption").fill("First light 🌅 #sandbox")
    expect(page.get_by_text("23 / 2200")).to_be_visible()  # the sunrise emoji counts 2 (UTF-16)
    page.get_by_label("Everyone").check()
    console.screenshot("composer")

    # And publish it now
    page.get_by_role("button", name="Publish now").click()
    console.heading("History")
    post = page.locator("li[data-post-id]").first

    # Then the history follows it live until it is published, with its TikTok link
    expect(post.get_by_test_id("post-status")).to_have_text("Published", timeout=30_000)
    link = post.get_by_role("link", name="View on TikTok")
    expect(link).to_have_attribute("href", re.compile(r"^https://www\.tiktok\.com/@ava\.public/video/\w+$"))
    console.screenshot("history")

    # And the only requests that left the console's origin are TikTok's consent page and the video's upload
    # to the presigned bucket URL the API handed out
    foreign = console.foreign_requests()
    allowed = {("document", "GET"), ("document", "POST"), ("xhr", "POST")}
    assert {(kind, method) for kind, method, _ in foreign} <= allowed
    uploads = [url for kind, _, url in foreign if kind == "xhr"]
    assert len(uploads) == 1 and urlsplit(uploads[0]).path.endswith("mediabucket")
    assert all("/v2/auth/authorize" in url for kind, _, url in foreign if kind == "document")


def test_composer_follows_tiktok_direct_post_rules(console: Console, videos: dict[str, Path]) -> None:
    page = console.page
    console.sign_up()
    console.connect_tiktok(CLEO)
    console.compose()
    publish = page.get_by_role("button", name="Publish now")

    # The creator's nickname comes from creator info
    expect(page.get_by_test_id("creator-nickname")).to_have_text("Cleo (duet and stitch off)")
    # No privacy option is chosen for them, and nothing can be posted until they choose
    privacy = page.get_by_role("group", name="Who can see this video").get_by_role("radio")
    expect(privacy).to_have_count(3)
    assert privacy.evaluate_all("radios => radios.filter(radio => radio.checked).length") == 0
    expect(publish).to_be_disabled()
    expect(page.get_by_text("Choose who can see this post.")).to_be_visible()
    # Interactions this creator turned off in TikTok are off and cannot be turned on
    for name in ("Allow comments", "Allow Duet", "Allow Stitch"):
        expect(page.get_by_role("checkbox", name=name)).to_be_disabled()
        expect(page.get_by_role("checkbox", name=name)).not_to_be_checked()

    # Commercial disclosure: off by default; once on, one of its options must be chosen
    disclose = page.get_by_role("switch", name="Disclose video content")
    expect(disclose).not_to_be_checked()
    expect(page.get_by_text(rules.MUSIC_DECLARATION)).to_be_visible()
    disclose.check()
    expect(page.locator("ul.problems").get_by_text(DISCLOSURE_HINT)).to_be_visible()
    page.get_by_role("checkbox", name="Your brand").check()
    expect(page.get_by_text(rules.LABEL_YOUR_BRAND)).to_be_visible()
    expect(page.get_by_text(rules.MUSIC_DECLARATION)).to_be_visible()
    # Branded content: the label and the declaration switch, and "Only me" closes
    branded = page.get_by_role("checkbox", name="Branded content")
    branded.check()
    expect(page.get_by_text(rules.LABEL_BRANDED)).to_be_visible()
    expect(page.get_by_text(rules.BRANDED_DECLARATION)).to_be_visible()
    only_me = page.get_by_role("radio", name="Only me")
    expect(only_me).to_be_disabled()
    expect(only_me).to_have_attribute("title", "Branded content visibility cannot be set to private.")
    console.screenshot("composer-branded")
    # ... and the other way round: "Only me" first closes branded content
    branded.uncheck()
    only_me.check()
    expect(branded).to_be_disabled()
    expect(page.get_by_text(rules.MUSIC_DECLARATION)).to_be_visible()

    # The caption counts UTF-16 units against TikTok's 2200
    caption = page.get_by_label("Caption")
    caption.fill("x" * 2200 + "👋")
    expect(page.get_by_text("2202 / 2200")).to_be_visible()
    expect(page.get_by_text("Shorten the caption to 2200 characters")).to_be_visible()
    caption.fill("Cleo's clip")

    # The time is picked in the creator's zone, within the retention window
    page.get_by_label("Schedule for later").check()
    when = page.get_by_label("Date and time (Europe/Paris)")
    expect(when).to_be_enabled()
    minimum, maximum = when.evaluate("input => [input.min, input.max]")
    now_in_paris = datetime.now(ZoneInfo("Europe/Paris")).replace(tzinfo=None)
    assert timedelta(0) <= datetime.fromisoformat(minimum) - now_in_paris <= timedelta(minutes=2)
    window = datetime.fromisoformat(maximum) - datetime.fromisoformat(minimum)
    assert timedelta(hours=23) <= window <= timedelta(hours=23, minutes=30)  # 24 h retention less 30 min
    expect(page.get_by_text(re.compile(r"Time zone: Europe/Paris \(UTC\+0[12]:00\)"))).to_be_visible()
    page.get_by_label("Publish now").check()

    # Once the video is uploaded and an audience chosen, the post can go
    console.upload(videos["clip"])
    page.get_by_label("Everyone").check()
    expect(publish).to_be_enabled()


def test_composer_checks_the_duration_before_upload_and_stops_when_tiktok_says_not_now(
    console: Console, videos: dict[str, Path], tiktok_sim: httpx.Client
) -> None:
    page = console.page
    assert tiktok_sim.patch(f"/_sim/creators/{DAN_OPEN_ID}", json={"max_video_post_duration_sec": 1}).is_success
    try:
        console.sign_up()
        console.connect_tiktok(DAN)
        console.compose()

        # When a video longer than this creator may post is chosen
        page.get_by_label("Video (MP4, MOV or WebM)").set_input_files(str(videos["clip"]))

        # Then it is refused before anything is uploaded
        refusal = "This account can post videos of up to 1 seconds; this one lasts 2."
        expect(page.get_by_role("alert")).to_have_text(refusal)
        assert not [sent for sent in console.requests if sent.url.endswith("/uploads")]
        expect(page.get_by_role("button", name="Publish now")).to_be_disabled()

        # And when TikTok says the creator cannot post now, the composer stops and says to try later
        assert tiktok_sim.patch(f"/_sim/creators/{DAN_OPEN_ID}", json={"banned": True}).is_success
        page.reload()
        expect(page.get_by_role("alert")).to_contain_text("TikTok does not let this account post right now.")
        expect(page.get_by_role("button", name="Publish now")).to_be_disabled()
    finally:
        tiktok_sim.patch(f"/_sim/creators/{DAN_OPEN_ID}", json={"max_video_post_duration_sec": 60, "banned": False})


def test_scheduled_post_shows_in_the_calendar_and_history_and_can_be_cancelled(
    console: Console, videos: dict[str, Path]
) -> None:
    page = console.page
    console.sign_up()
    console.connect_tiktok(AVA)
    console.schedule_in_an_hour(videos["clip"], caption="Later today", audience="Friends")
    expect(page.get_by_text(re.compile("^Scheduled for "))).to_be_visible()

    # The calendar shows it this week and this month
    page.get_by_role("link", name="Calendar").click()
    expect(page.locator(".calendar.week li")).to_contain_text(["Scheduled"])
    console.screenshot("calendar-week")
    page.get_by_role("link", name="Month").click()
    expect(page.locator(".calendar.month li")).to_contain_text(["Scheduled"])

    # The history filters by status, and a pending post can be cancelled
    page.get_by_role("link", name="History").click()
    page.get_by_label("Status").select_option("published")
    expect(page.get_by_text("No posts match these filters.")).to_be_visible()
    page.get_by_label("Status").select_option("pending")
    post = page.locator("li[data-post-id]")
    expect(post).to_have_count(1)
    post.get_by_role("button", name="Cancel post").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel post").click()
    expect(post.get_by_test_id("post-status")).to_have_text("Cancelled")


def test_a_post_scheduled_a_minute_ahead_goes_from_scheduled_to_published_in_the_history(
    console: Console, videos: dict[str, Path], scheduler_clock: SchedulerClock
) -> None:
    page = console.page
    console.sign_up()
    console.connect_tiktok(AVA)
    console.compose()
    console.upload(videos["clip"])
    page.get_by_label("Caption").fill("A minute from now")
    page.get_by_label("Everyone").check()

    # When they schedule it for the next minute but one, on the picker in their own time zone
    page.get_by_label("Schedule for later").check()
    due = (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    page.get_by_label(f"Date and time ({TIMEZONE})").fill(due.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule post").click()
    console.heading("History")
    post = page.locator("li[data-post-id]").first
    expect(post.get_by_test_id("post-status")).to_have_text("Scheduled")
    expect(post).to_contain_text(due.strftime("%-I:%M %p"))  # the console speaks en-US

    # Then when its minute comes (the scheduler's clock is moved there, not waited for), the history,
    # still open, follows it to published
    scheduler_clock.jump_to(due + timedelta(seconds=1))
    expect(post.get_by_test_id("post-status")).to_have_text("Published", timeout=30_000)
    expect(post.get_by_role("link", name="View on TikTok")).to_be_visible()


def test_a_scheduled_post_is_edited_and_moved_and_a_refused_change_changes_nothing(
    console: Console, videos: dict[str, Path], console_sandbox: Sandbox, tiktok_sim: httpx.Client
) -> None:
    page = console.page
    zone = ZoneInfo(TIMEZONE)

    def stored(post_id: str) -> dict:
        answer = console.context.request.get(f"{console.origin}/posts/{post_id}")
        assert answer.ok, answer.text()
        return answer.json()

    def schedule_time(post_id: str) -> datetime:
        """When the post's EventBridge schedule fires (from moto)."""
        assert console_sandbox.stack is not None
        found = console_sandbox.client("scheduler").get_schedule(
            Name=f"post-{post_id}", GroupName=console_sandbox.stack.ref("PostScheduleGroup")
        )
        expression = re.fullmatch(r"at\((.+)\)", found["ScheduleExpression"])
        assert expression, found["ScheduleExpression"]
        local = datetime.fromisoformat(expression.group(1))
        return local.replace(tzinfo=ZoneInfo(found["ScheduleExpressionTimezone"]))

    # Given a post scheduled an hour ahead
    console.sign_up()
    console.connect_tiktok(AVA)
    console.schedule_in_an_hour(videos["clip"], caption="Before the edit", audience="Everyone")
    item = page.locator("li[data-post-id]").first
    post_id = item.get_attribute("data-post-id")
    assert post_id
    before = stored(post_id)
    first_time = datetime.fromisoformat(before["scheduled_at"])
    assert schedule_time(post_id) == first_time

    # When they open it from the history, the composer shows its stored choices for the same account
    item.get_by_role("link", name="Edit").click()
    console.heading("Edit scheduled post")
    expect(page.get_by_test_id("creator-nickname")).to_have_text("Ava (public)")
    expect(page.get_by_label("TikTok account", exact=True)).to_be_disabled()
    expect(page.get_by_text("A scheduled post's account and video cannot change")).to_be_visible()
    expect(page.get_by_label("Caption")).to_have_value("Before the edit")
    expect(page.get_by_role("radio", name="Everyone")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Allow comments")).not_to_be_checked()
    expect(page.get_by_text(rules.MUSIC_DECLARATION)).to_be_visible()
    save = page.get_by_role("button", name="Save changes")
    expect(save).to_be_enabled()
    # ... and the time in their zone, within the retention window counted from the upload
    when = page.get_by_label(f"Date and time ({TIMEZONE})")
    expect(when).to_have_value(first_time.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    uploaded_at = datetime.fromisoformat(before["video"]["uploaded_at"])
    latest = (uploaded_at + timedelta(hours=24, minutes=-30)).astimezone(zone)
    expect(when).to_have_attribute("max", latest.strftime("%Y-%m-%dT%H:%M"))
    console.screenshot("composer-edit")

    # A time typed beyond the retention window is refused before anything is sent
    when.fill((latest + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("ul.problems").get_by_text(re.compile("^Choose a time before "))).to_be_visible()
    expect(save).to_be_disabled()

    # And a change TikTok no longer allows (comments turned off after the composer opened) gets the API's
    # message next to the field, and changes nothing
    moved = (first_time + timedelta(minutes=30)).astimezone(zone)
    when.fill(moved.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("checkbox", name="Allow comments").check()
    assert tiktok_sim.patch(f"/_sim/creators/{AVA_OPEN_ID}", json={"comment_disabled": True}).is_success
    try:
        save.click()
        refusal = page.locator('.field-error[data-field="allow_comment"]')
        expect(refusal).to_have_text("This account has turned this interaction off in TikTok.")
        expect(page.get_by_role("alert")).to_contain_text("allow_comment")
        after_refusal = stored(post_id)
        assert after_refusal["updated_at"] == before["updated_at"]
        assert after_refusal["scheduled_at"] == before["scheduled_at"]
        assert after_refusal["allow_comment"] is False
        assert schedule_time(post_id) == first_time

        # Opened again, the composer asks TikTok afresh: comments cannot be turned on, and once the account
        # is private the stored audience ("Everyone") is no longer offered, so none is chosen until they do
        assert tiktok_sim.patch(f"/_sim/creators/{AVA_OPEN_ID}", json={"is_private": True}).is_success
        page.reload()
        console.heading("Edit scheduled post")
        expect(page.get_by_role("checkbox", name="Allow comments")).to_be_disabled()
        expect(page.get_by_text("This account no longer offers the audience this post had (Everyone)")).to_be_visible()
        privacy = page.get_by_role("group", name="Who can see this video").get_by_role("radio")
        expect(privacy).to_have_count(3)
        assert privacy.evaluate_all("radios => radios.filter(radio => radio.checked).length") == 0
        expect(page.locator("ul.problems").get_by_text("Choose who can see this post.")).to_be_visible()
        expect(save).to_be_disabled()
    finally:
        tiktok_sim.patch(f"/_sim/creators/{AVA_OPEN_ID}", json={"comment_disabled": False, "is_private": False})
    page.reload()
    console.heading("Edit scheduled post")
    expect(page.get_by_role("radio", name="Everyone")).to_be_checked()

    # When they change the caption and move the post 30 minutes later
    page.get_by_label("Caption").fill("After the edit ✂️")
    when.fill(moved.strftime("%Y-%m-%dT%H:%M"))
    sent: list[object] = []

    def keep_patch(request: Request) -> None:
        if request.method == "PATCH":
            sent.append(request.post_data_json)

    page.on("request", keep_patch)
    save.click()

    # Then the history shows the new caption and time
    console.heading("History")
    expect(page.get_by_text(re.compile("^Changes saved. Scheduled for "))).to_be_visible()
    item = page.locator(f'li[data-post-id="{post_id}"]')
    expect(item).to_contain_text("After the edit ✂️")
    expect(item).to_contain_text(moved.strftime("%-I:%M %p"))  # the console speaks en-US
    expect(item.get_by_test_id("post-status")).to_have_text("Scheduled")

    # And only what changed was sent, with the consent to the declaration shown
    assert sent == [
        {
            "caption": "After the edit ✂️",
            "scheduled_at": moved.strftime("%Y-%m-%dT%H:%M"),
            "timezone": TIMEZONE,
            "consent": True,
            "declaration": rules.MUSIC_DECLARATION,
        }
    ]

    # And the API and the post's EventBridge schedule have moved with it
    after = stored(post_id)
    assert after["caption"] == "After the edit ✂️"
    assert datetime.fromisoformat(after["scheduled_at"]) == moved
    assert after["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert schedule_time(post_id) == moved


def test_p27_cookies_after_sign_in_and_a_connection_are_exactly_the_listed_ones(console: Console) -> None:
    page = console.page
    console.sign_up()
    page.get_by_role("link", name=re.compile("Connect a TikTok account")).click()
    page.wait_for_url(re.compile(r".*/v2/auth/authorize/.*"))

    # While TikTok asks for consent, the three connection cookies are set, for ten minutes at most
    during = {cookie["name"]: cookie for cookie in console.context.cookies(console.origin)}
    flow_names = {spec.cookie_name(secure=False) for spec in cookies.POLICY_TABLE if spec.max_age == 600}
    assert len(flow_names) == 3 and flow_names <= set(during)
    for name in flow_names:
        assert during[name]["httpOnly"] and during[name]["sameSite"] == "Lax"

    page.get_by_label(re.compile(AVA)).check()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("Your TikTok account is connected.")).to_be_visible()

    # Afterwards the browser holds exactly the session and CSRF cookies, HttpOnly and SameSite=Lax, and
    # nothing for any other host
    after = console.context.cookies()
    listed = {spec.cookie_name(secure=False) for spec in cookies.POLICY_TABLE}
    names = {cookie["name"] for cookie in after}
    assert names == {cookies.SESSION.cookie_name(secure=False), cookies.CSRF.cookie_name(secure=False)}
    assert names <= listed
    assert {cookie["domain"] for cookie in after} == {"localhost"}
    assert all(cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/" for cookie in after)

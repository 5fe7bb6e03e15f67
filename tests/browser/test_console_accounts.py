"""The console's sign-up, sign-in, mailed links and privacy promises, in Chromium (issue 10)."""

import re

import pytest
from playwright.sync_api import expect

from flowctory import cookies
from tests.browser.steps import PASSWORD, Console

pytestmark = pytest.mark.e2e


def test_sign_up_confirm_the_address_from_the_mail_sign_out_and_sign_in(console: Console) -> None:
    page = console.page
    # Given a new creator who signs up
    email = console.sign_up()
    expect(page.get_by_text(f"Confirm your e-mail address: open the link we sent to {email}")).to_be_visible()
    console.screenshot("accounts-empty")

    # When they open the link mailed to them
    page.goto(console.mailed_link("confirm"))

    # Then the address is confirmed, the link's token has left the address bar, and the banner is gone
    expect(page.get_by_text(f"Thank you: {email} is confirmed.")).to_be_visible()
    assert "token" not in page.url
    expect(page.get_by_text("Confirm your e-mail address")).to_have_count(0)

    # And they can sign out and back in
    console.sign_out()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    console.sign_in(email)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_forgot_password_reset_from_the_mailed_link_then_sign_in_with_the_new_one(console: Console) -> None:
    page = console.page
    email = console.sign_up()
    console.sign_out()

    # When they ask for a reset link and follow it
    page.get_by_role("link", name="Forgot your password?").click()
    console.heading("Forgot your password")
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("a link to reset its password is on its way")).to_be_visible()
    page.goto(console.mailed_link("reset"))
    console.heading("Choose a new password")
    assert "token" not in page.url
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Set the new password").click()

    # Then the old password no longer works and the new one does
    expect(page.get_by_text("every session was signed out")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    console.sign_in(email, "a brand new passphrase")


def test_p10_console_loads_nothing_from_any_other_host(console: Console) -> None:
    page = console.page
    # Given every screen of the console, signed out and signed in
    console.open()
    console.heading("Sign in")
    for route, title in (("sign-up", "Create your account"), ("forgot-password", "Forgot your password")):
        console.open(route)
        console.heading(title)
    console.sign_up()
    for link, title in (
        ("New post", "New post"),
        ("Calendar", "Calendar"),
        ("History", "History"),
        ("Settings", "Settings"),
        ("Accounts", "TikTok accounts"),
    ):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        console.heading(title)
    console.sign_out()
    page.wait_for_load_state("networkidle")

    # Then every request went to the console's own origin: no font, script, image or analytics elsewhere
    assert console.requests, "no request was recorded"
    assert console.foreign_requests() == []
    kinds = {sent.resource_type for sent in console.requests}
    assert {"document", "script", "stylesheet", "fetch"} <= kinds


def test_p29_session_cookie_is_httponly_out_of_reach_of_page_scripts(console: Console) -> None:
    console.sign_up()
    assert console.page.evaluate("document.cookie") == ""
    names = {cookie["name"] for cookie in console.context.cookies()}
    assert cookies.SESSION.cookie_name(secure=False) in names


def test_sign_up_with_google_then_sign_in_again_with_it(console: Console) -> None:
    page = console.page
    # Given a creator who signs up with Google: the attestations first, then the provider's consent page
    console.open("sign-up")
    page.get_by_role("button", name="Continue with Google").click()
    expect(page.get_by_text("Tick both boxes above first.")).to_be_visible()
    page.get_by_label("I am at least 16").check()
    page.get_by_label("I accept the terms").check()
    page.get_by_role("button", name="Continue with Google").click()
    page.get_by_label(re.compile("Grace Hopper")).check()
    page.get_by_role("button", name="Continue").click()

    # Then they are signed in on the console, with Google's name and address
    console.heading("TikTok accounts")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("textbox", name="E-mail", exact=True)).to_have_value("grace@example.com")
    expect(page.get_by_text("You sign in with google")).to_be_visible()

    # And after signing out, Google signs them in again from the sign-in page
    console.sign_out()
    page.get_by_role("button", name="Continue with Google").click()
    page.get_by_label(re.compile("Grace Hopper")).check()
    page.get_by_role("button", name="Continue").click()
    console.heading("TikTok accounts")


def test_an_ended_session_returns_to_sign_in_and_signing_in_again_works(console: Console) -> None:
    page = console.page
    email = console.sign_up()
    # Given the session cookie is gone (expired, or ended elsewhere) while the console is open
    console.context.clear_cookies()

    # When the console next asks the API for something
    page.get_by_role("link", name="History").click()

    # Then it is back on sign-in, saying why; and signing in works although its CSRF token is stale
    console.heading("Sign in")
    expect(page.get_by_text("Please sign in.")).to_be_visible()
    console.sign_in(email)


def test_cancelling_at_google_comes_back_to_sign_in_saying_so(console: Console) -> None:
    page = console.page
    # Given a creator on the sign-in screen who chooses Google, by keyboard
    console.open("sign-in")
    console.heading("Sign in")
    page.get_by_role("button", name="Continue with Google").focus()
    page.keyboard.press("Enter")

    # When they cancel on Google's consent page
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    page.get_by_role("button", name="Cancel").focus()
    page.keyboard.press("Enter")

    # Then they are back on the sign-in screen, told in plain words (a status screen readers read), not on a JSON page
    console.heading("Sign in")
    said = page.get_by_role("status").filter(has_text="You cancelled signing in at Google or Facebook")
    expect(said).to_be_visible()
    console.screenshot("sign-in-cancelled-at-google")

    # And the code has left the address bar, the flow cookie is gone, and nobody is signed in
    assert page.url == f"{console.origin}/#/sign-in"
    names = {cookie["name"] for cookie in console.context.cookies()}
    assert cookies.CALLBACK_URL.cookie_name(secure=False) not in names
    assert cookies.SESSION.cookie_name(secure=False) not in names
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()

    # And reloading does not say it again
    page.reload()
    console.heading("Sign in")
    expect(said).to_have_count(0)

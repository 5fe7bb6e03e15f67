"""Settings: data rights (export, restriction, consents, deletion) and billing, in Chromium (issue 10)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.steps import PASSWORD, Console

pytestmark = pytest.mark.e2e


def test_settings_data_rights_say_not_available_when_the_server_lacks_a_route(console: Console) -> None:
    """The browser's network layer answers 404 for the data-rights routes, as a server without them would."""
    page = console.page
    console.sign_up()
    for route in ("**/me/export", "**/me/consents", "**/me/restriction"):
        page.route(route, lambda route: route.fulfill(status=404, json={"message": "Not Found"}))
    page.get_by_role("link", name="Settings").click()
    console.heading("Settings")
    # Billing is off in the sandbox: its section is not shown
    expect(page.get_by_role("heading", name="Plan and billing")).to_have_count(0)
    not_available = page.get_by_text("This is not available yet on this server.")
    expect(not_available).to_have_count(1)  # the consents
    page.get_by_role("button", name="Download my data").click()
    expect(not_available).to_have_count(2)
    page.get_by_role("button", name="Restrict processing").click()
    expect(not_available).to_have_count(3)


def test_settings_data_rights_export_restrict_consents_and_delete_the_account(console: Console) -> None:
    page = console.page
    email = console.sign_up()
    page.get_by_role("link", name="Settings").click()
    console.heading("Settings")

    # The export downloads as flowctory-export.json and holds this user's data
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    assert download.value.suggested_filename == "flowctory-export.json"
    assert email in Path(download.value.path()).read_text(encoding="utf-8")

    # Restriction is switched on and off with PUT /me/restriction
    page.get_by_role("button", name="Restrict processing").click()
    expect(page.get_by_text(re.compile(r"^Processing is restricted since "))).to_be_visible()
    page.get_by_role("button", name="Lift the restriction").click()
    expect(page.get_by_text("Processing is no longer restricted.")).to_be_visible()

    # The consents given at sign-up are listed
    consents = page.get_by_role("table")
    expect(consents).to_contain_text("privacy policy")
    expect(consents).to_contain_text("age attestation")

    # Deleting the account asks for the password and a typed confirmation, then returns to sign-in, signed out
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Your password").fill(PASSWORD)
    dialog.get_by_label("Type DELETE to confirm").fill("DELETE")
    dialog.get_by_role("button", name="Delete my account").click()
    console.heading("Sign in")
    expect(page.get_by_text("Your account is being deleted.")).to_be_visible()
    assert not [cookie for cookie in console.context.cookies() if cookie["name"] == "authjs.session-token"]

"""The service e-mails of accounts (policy §4: service notices and security alerts, promise P12).

Links are built from the configured web origin, never from the request's Host header, and carry
the token as the `token` query parameter of a console page.
"""

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

VERIFY_EMAIL_PAGE = "/verify-email"
RESET_PASSWORD_PAGE = "/reset-password"  # noqa: S105 - a console page path
SIGN_IN_PAGE = "/sign-in"
FORGOT_PASSWORD_PAGE = "/forgot-password"  # noqa: S105 - a console page path


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


def link(web_origin: str, page: str, **query: str) -> str:
    return web_origin.rstrip("/") + page + (f"?{urlencode(query)}" if query else "")


def _signed(body: str) -> str:
    return body.strip() + "\n\n— Flowctory\nYou receive this e-mail because of your Flowctory account.\n"


def verify_email(to: str, name: str, *, web_origin: str, token: str) -> Mail:
    url = link(web_origin, VERIFY_EMAIL_PAGE, token=token)
    return Mail(
        to=to,
        subject="Confirm your e-mail address for Flowctory",
        text=_signed(
            f"Hello {name},\n\nConfirm that this address is yours by opening this link within 24 hours:\n\n{url}\n\n"
            "If you did not create a Flowctory account, ignore this e-mail."
        ),
    )


def confirm_new_email(to: str, name: str, *, web_origin: str, token: str) -> Mail:
    url = link(web_origin, VERIFY_EMAIL_PAGE, token=token)
    return Mail(
        to=to,
        subject="Confirm your new e-mail address for Flowctory",
        text=_signed(
            f"Hello {name},\n\nYou asked to use this address for your Flowctory account. Confirm it by opening "
            f"this link within 24 hours:\n\n{url}\n\nUntil you do, your account keeps its current address."
        ),
    )


def email_change_requested(to: str, name: str, *, new_email: str) -> Mail:
    return Mail(
        to=to,
        subject="Security alert: a change of your Flowctory e-mail address was requested",
        text=_signed(
            f"Hello {name},\n\nSomeone signed in to your Flowctory account asked to change its e-mail address to "
            f"{new_email}. The change takes effect only once that address is confirmed.\n\n"
            "If this was not you, change your password now."
        ),
    )


def email_changed(to: str, name: str, *, new_email: str) -> Mail:
    return Mail(
        to=to,
        subject="Security alert: your Flowctory e-mail address changed",
        text=_signed(
            f"Hello {name},\n\nYour Flowctory account now uses the address {new_email}. "
            "If this was not you, contact us at contact@flowctory.com at once."
        ),
    )


def reset_password(to: str, name: str, *, web_origin: str, token: str) -> Mail:
    url = link(web_origin, RESET_PASSWORD_PAGE, token=token)
    return Mail(
        to=to,
        subject="Reset your Flowctory password",
        text=_signed(
            f"Hello {name},\n\nTo choose a new password, open this link within 30 minutes:\n\n{url}\n\n"
            "If you did not ask for this, ignore this e-mail: your password stays as it is."
        ),
    )


def password_changed(to: str, name: str, *, web_origin: str) -> Mail:
    url = link(web_origin, FORGOT_PASSWORD_PAGE)
    return Mail(
        to=to,
        subject="Security alert: your Flowctory password changed",
        text=_signed(
            f"Hello {name},\n\nThe password of your Flowctory account was just changed, and every other session "
            f"was signed out.\n\nIf this was not you, reset your password now: {url}"
        ),
    )


def new_sign_in_method(to: str, name: str, *, provider: str, web_origin: str) -> Mail:
    url = link(web_origin, FORGOT_PASSWORD_PAGE)
    return Mail(
        to=to,
        subject=f"Security alert: {provider.capitalize()} sign-in was added to your Flowctory account",
        text=_signed(
            f"Hello {name},\n\nYou can now sign in to Flowctory with {provider.capitalize()}.\n\n"
            f"If this was not you, reset your password now: {url}"
        ),
    )


def sign_up_attempt(to: str, *, web_origin: str) -> Mail:
    url = link(web_origin, SIGN_IN_PAGE)
    forgot = link(web_origin, FORGOT_PASSWORD_PAGE)
    return Mail(
        to=to,
        subject="Someone tried to create a Flowctory account with your address",
        text=_signed(
            f"Hello,\n\nSomeone tried to sign up to Flowctory with this address, which already has an account.\n\n"
            f"If it was you, sign in here: {url}\nForgot your password? {forgot}\n\n"
            "If it was not you, nothing changed and you can ignore this e-mail."
        ),
    )


ACCOUNTS_PAGE = "/accounts"


def reconnect_needed(
    to: str, name: str, *, account_name: str, first_post_local: str, posts: int, web_origin: str
) -> Mail:
    url = link(web_origin, ACCOUNTS_PAGE)
    waiting = "a post is" if posts == 1 else f"{posts} posts are"
    return Mail(
        to=to,
        subject=f"Reconnect your TikTok account {account_name} before your next post",
        text=_signed(
            f"Hello {name},\n\n{waiting.capitalize()} scheduled on the TikTok account {account_name}, the first at "
            f"{first_post_local}, but TikTok will not accept it until you reconnect the account: TikTok's "
            f"permission has ended or will end before then.\n\nReconnect it here, it takes a minute: {url}\n\n"
            "Until you do, these posts cannot be published."
        ),
    )

"""The authorize page: a plain HTML form a person clicks through and a script can submit."""

from collections.abc import Mapping, Sequence
from html import escape

from sandbox.tiktok_sim.config import Creator

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "fieldset{margin:1rem 0;border:1px solid #ccc;border-radius:6px}label{display:block;margin:.25rem 0}"
    "button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}.note{color:#555;font-size:.9rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )


def authorize_page(
    action: str, params: Mapping[str, str], creators: Sequence[Creator], scopes: Sequence[str], client_key: str
) -> str:
    radios = "".join(
        f'<label><input type="radio" name="creator" value="{escape(c.open_id)}"{" checked" if i == 0 else ""}> '
        f"{escape(c.display_name)} (@{escape(c.username)}){' · private account' if c.is_private else ''}</label>"
        for i, c in enumerate(creators)
    )
    boxes = "".join(
        f'<label><input type="checkbox" name="granted_scope" value="{escape(s)}" checked> {escape(s)}</label>'
        for s in scopes
    )
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in params.items()
    )
    body = (
        "<h1>Log in with TikTok</h1>"
        '<p class="note">TikTok simulator: sandbox accounts only, nothing leaves this machine.</p>'
        f"<p><strong>{escape(client_key)}</strong> asks to use your TikTok account.</p>"
        f'<form method="post" action="{escape(action)}">'
        f"<fieldset><legend>Account</legend>{radios}</fieldset>"
        f"<fieldset><legend>Permissions</legend>{boxes}</fieldset>"
        f'{hidden}<input type="hidden" name="scope_form" value="1">'
        '<button type="submit" name="decision" value="authorize">Authorize</button>'
        '<button type="submit" name="decision" value="deny">Cancel</button>'
        "</form>"
    )
    return _page("Log in with TikTok (simulator)", body)


def error_page(parameter: str, description: str) -> str:
    body = (
        "<h1>We couldn't log in with TikTok</h1>"
        f"<p>This may be due to certain app settings. Correct the following and try again: "
        f'<strong>{escape(parameter)}</strong></p><p class="note">{escape(description)}</p>'
    )
    return _page("TikTok (simulator): error", body)

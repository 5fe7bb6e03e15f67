"""The mails the functions sent through SES (v1 or v2), read back from moto's in-process backend.

moto keeps sent mail in memory and never delivers it. The sandbox runs moto in its own process,
so it reads the backend directly rather than through moto's `/moto-api/data.json` (which fails
while any S3 multipart upload is open). When a mail has both a text and an HTML body moto keeps
only the HTML one, so the text shown here is then derived from the HTML.
"""

import email
import email.policy
import html
import re
from html.parser import HTMLParser
from typing import Any

from sandbox.stack import ACCOUNT_ID, REGION

URL = re.compile(r"https?://[^\s\"'<>]+")
BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"}


def sent_mail(account_id: str = ACCOUNT_ID, region: str = REGION) -> list[dict[str, Any]]:
    """Every mail sent so far, oldest first: from, to, cc, bcc, subject, text body and the links in it."""
    from moto.ses.models import RawMessage, TemplateMessage, ses_backends

    mails = []
    for message in list(ses_backends[account_id][region].sent_messages):
        if isinstance(message, RawMessage):
            mails.append(_raw_mail(message.id, message.source, message.destinations, message.raw_data))
        elif isinstance(message, TemplateMessage):
            mails.append(
                {
                    "id": message.id,
                    "from": message.source,
                    **_recipients(message.destinations),
                    "subject": None,
                    "template": message.template,
                    "template_data": message.template_data,
                    "text": "",
                    "links": URL.findall(str(message.template_data)),
                }
            )
        elif hasattr(message, "body"):
            mails.append(_simple_mail(message.id, message.source, message.destinations, message.subject, message.body))
    return mails


def _simple_mail(message_id: str, source: str, destinations: Any, subject: str, body: str) -> dict[str, Any]:
    is_html = bool(re.search(r"<(html|body|p|a|br|div|table)\b", body, re.IGNORECASE))
    text = html_to_text(body) if is_html else body
    return {
        "id": message_id,
        "from": source,
        **_recipients(destinations),
        "subject": subject,
        "text": text,
        "html": body if is_html else None,
        "links": links(body),
    }


def _raw_mail(message_id: str, source: str, destinations: list[str], raw: str) -> dict[str, Any]:
    parsed = email.message_from_string(raw, policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    html_body = html_part.get_content() if html_part is not None else None
    text = text_part.get_content() if text_part is not None else html_to_text(html_body or "")
    return {
        "id": message_id,
        "from": source or str(parsed.get("From", "")),
        # moto adds the To: header's addresses to the destinations it was given: drop the repeats.
        "to": list(dict.fromkeys(destinations))
        or [address.strip() for address in str(parsed.get("To", "")).split(",") if address.strip()],
        "cc": [],
        "bcc": [],
        "subject": str(parsed.get("Subject", "")),
        "text": text,
        "html": html_body,
        "links": links(f"{text}\n{html_body or ''}"),
    }


def _recipients(destinations: Any) -> dict[str, list[str]]:
    if isinstance(destinations, dict):
        return {
            "to": list(destinations.get("ToAddresses", [])),
            "cc": list(destinations.get("CcAddresses", [])),
            "bcc": list(destinations.get("BccAddresses", [])),
        }
    return {"to": list(destinations or []), "cc": [], "bcc": []}


def links(body: str) -> list[str]:
    """The http(s) links of a text or HTML body, unescaped, in order, without repeats."""
    found = [html.unescape(url).rstrip(".,;:!?)") for url in URL.findall(body)]
    return list(dict.fromkeys(found))


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

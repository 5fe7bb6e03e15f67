"""Where the API may send a browser back to: the web console only (security §9, no open redirect).

A callback URL is either a path on the web origin ("/posts?tab=failed") or an absolute URL whose
scheme, host and port are exactly the web origin's. Everything else is refused, including the
tricks browsers resolve off-site: `//evil.com`, `/\\evil.com`, `https:evil.com`, userinfo
(`https://app@evil.com`), `javascript:`, control characters and whitespace, and their
percent-encoded forms. What comes out is always the web origin followed by the path, never the
raw input.
"""

import re
from urllib.parse import unquote, urlsplit

from flowctory.errors import BadRequest

MAX_LENGTH = 2048
DEFAULT_PATH = "/"
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidCallbackUrl(BadRequest):
    code = "invalid_callback_url"

    def __init__(self) -> None:
        super().__init__("The callback URL must be a page of the Flowctory app.")


def _safe_path(path: str) -> bool:
    decoded = path
    for _ in range(3):  # "%252F" decodes to "%2F" then "/": look through repeated encodings
        if _FORBIDDEN.search(decoded) or not decoded.startswith("/") or decoded.startswith("//"):
            return False
        if "/./" in decoded or "/../" in decoded:
            return False
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            return True
    return False


def safe_callback_url(value: str, *, web_origin: str) -> str:
    """`value` as an absolute URL on `web_origin`.

    Raises:
        InvalidCallbackUrl: it points anywhere else, or could be read as pointing elsewhere.
    """
    origin = web_origin.rstrip("/")
    if not value or len(value) > MAX_LENGTH or _FORBIDDEN.search(value):
        raise InvalidCallbackUrl
    if value.startswith("/"):
        path = value
    else:
        parts = urlsplit(value)
        expected = urlsplit(origin)
        same_origin = (
            parts.scheme.lower() == expected.scheme
            and parts.netloc.lower() == expected.netloc.lower()
            and "@" not in parts.netloc
        )
        if not same_origin:
            raise InvalidCallbackUrl
        path = value[len(parts.scheme) + 3 + len(parts.netloc) :] or DEFAULT_PATH
        if not path.startswith("/"):
            path = "/" + path if path[0] in "?#" else ""
            if not path:
                raise InvalidCallbackUrl
    if not _safe_path(path.split("?", 1)[0].split("#", 1)[0]):
        raise InvalidCallbackUrl
    return origin + path


def callback_url_or_default(value: str | None, *, web_origin: str) -> str:
    """The same check for a value read back (the callback-url cookie): anything unsafe becomes the app's home."""
    try:
        return safe_callback_url(value or "", web_origin=web_origin)
    except InvalidCallbackUrl:
        return web_origin.rstrip("/") + DEFAULT_PATH

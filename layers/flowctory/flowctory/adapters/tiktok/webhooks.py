"""Verifies and reads TikTok webhook deliveries (`TikTok-Signature: t=<unix>,s=<hex HMAC-SHA256>`).

The signed payload is `t + "." + raw body`, keyed with the app's client secret. The check uses the
exact bytes received, compares in constant time, and refuses timestamps outside a tolerance so a
captured delivery cannot be replayed later.
"""

import hashlib
import hmac
import json
import time

from pydantic import ValidationError

from flowctory.errors import BadRequest, Unauthenticated
from flowctory.models.tiktok import WebhookEvent

SIGNATURE_HEADER = "TikTok-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookSignatureError(Unauthenticated):
    code = "invalid_signature"


def verify_signature(
    header: str | None,
    body: bytes,
    client_secret: str,
    *,
    now: float | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a delivery's signature and return its timestamp.

    Raises:
        WebhookSignatureError: the header is missing or malformed, the timestamp is outside the
            tolerance, or the signature does not match.
    """
    if not header:
        raise WebhookSignatureError("The webhook signature is missing.")
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key.strip(), value.strip())
    timestamp, signature = parts.get("t", ""), parts.get("s", "")
    if not timestamp.isdigit() or not signature:
        raise WebhookSignatureError("The webhook signature is malformed.")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        raise WebhookSignatureError("The webhook signature has expired.")
    expected = hmac.new(client_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise WebhookSignatureError("The webhook signature does not match.")
    return int(timestamp)


def parse_event(body: bytes) -> WebhookEvent:
    """The delivery's envelope with `content` (a JSON string) decoded.

    Raises:
        BadRequest: the body or its content is not the JSON TikTok documents.
    """
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and isinstance(envelope.get("content"), str):
            envelope["content"] = json.loads(envelope["content"] or "{}")
        return WebhookEvent.model_validate(envelope)
    except (ValueError, ValidationError):
        raise BadRequest("The webhook body is not a TikTok event.") from None

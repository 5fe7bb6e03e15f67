"""Signed webhook deliveries to the app's callback, retried with backoff, optionally duplicated."""

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from sandbox.tiktok_sim.timeline import SimClock, Timeline

log = logging.getLogger("sandbox.tiktok_sim")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The TikTok-Signature value: t=<unix>,s=hex(HMAC-SHA256(secret, "<t>." + body))."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


@dataclass
class Delivery:
    event_id: str
    event: str
    user_openid: str
    body: bytes
    first_attempt_at: float
    duplicate: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event": self.event,
            "user_openid": self.user_openid,
            "duplicate": self.duplicate,
            "delivered": self.delivered,
            "attempts": list(self.attempts),
            "body": json.loads(self.body),
        }


class WebhookSender:
    """Delivers events to `settings().webhook_url`; every attempt is kept for the control API."""

    def __init__(self, clock: SimClock, settings: Callable[[], Any]) -> None:
        self._clock = clock
        self._settings = settings
        self._timeline = Timeline(clock, "tiktok-sim-webhooks")
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self._http = httpx.Client(timeout=5.0)  # used by the timeline's single thread only

    def emit(self, client_key: str, event: str, user_openid: str, content: dict[str, Any]) -> None:
        envelope = {
            "client_key": client_key,
            "event": event,
            "create_time": int(self._clock.now()),
            "user_openid": user_openid,
            "content": json.dumps(content, separators=(",", ":")),
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        delivery = Delivery(uuid.uuid4().hex, event, user_openid, body, self._clock.now())
        with self._lock:
            self.deliveries.append(delivery)
        self._timeline.after(0, lambda: self._attempt(delivery))

    def _attempt(self, delivery: Delivery) -> None:
        settings = self._settings()
        url = settings.webhook_url
        if not url:
            delivery.attempts.append({"at": self._clock.now(), "status": None, "error": "no webhook_url configured"})
            return
        status: int | None = None
        error: str | None = None
        timestamp = int(time.time())  # real time: the receiver checks it against its own clock
        headers = {
            "Content-Type": "application/json",
            "TikTok-Signature": sign(delivery.body, settings.client_secret, timestamp),
        }
        try:
            status = self._http.post(url, content=delivery.body, headers=headers).status_code
        except httpx.HTTPError as failure:
            error = type(failure).__name__
        delivery.attempts.append({"at": self._clock.now(), "status": status, "error": error})
        if status == 200:
            delivery.delivered = True
            if not delivery.duplicate:
                for _ in range(settings.webhook_duplicates):
                    copy = Delivery(
                        delivery.event_id,
                        delivery.event,
                        delivery.user_openid,
                        delivery.body,
                        self._clock.now(),
                        duplicate=True,
                    )
                    with self._lock:
                        self.deliveries.append(copy)
                    self._timeline.after(0.01, partial(self._attempt, copy))
            return
        tries = len(delivery.attempts)
        elapsed = self._clock.now() - delivery.first_attempt_at
        if tries < settings.webhook_max_attempts and elapsed < settings.webhook_horizon_seconds:
            delay = settings.webhook_retry_base_seconds * 2 ** (tries - 1)
            self._timeline.after(delay, lambda: self._attempt(delivery))
        else:
            log.info("webhook dropped after %d attempts: %s", tries, delivery.event)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_dict() for d in self.deliveries]

    def idle(self) -> bool:
        return self._timeline.idle()

    def pending(self) -> int:
        return self._timeline.pending()

    def reset(self) -> None:
        self._timeline.clear()
        with self._lock:
            self.deliveries.clear()

    def stop(self) -> None:
        self._timeline.stop()
        self._http.close()

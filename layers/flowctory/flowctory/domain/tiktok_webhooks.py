"""TikTok's webhooks: the publish outcome as soon as TikTok knows it, and revoked grants.

Deliveries are verified (signature over the raw body, with a time tolerance) before anything is
read or written, then processed once per event (the webhook ledger), since TikTok delivers at
least once and retries for 72 hours. They only move a post forward along the same conditional
transitions the upload function uses, so a webhook racing a status poll changes nothing twice.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from flowctory.adapters.tiktok import errors as tiktok_errors
from flowctory.adapters.tiktok.webhooks import parse_event, verify_signature
from flowctory.errors import Conflict
from flowctory.models.posts import PostFailure, PostStatus
from flowctory.models.tiktok import WebhookEvent
from flowctory.observability import logger

if TYPE_CHECKING:
    from flowctory.adapters.post_repository import PostRepository
    from flowctory.adapters.s3 import S3MediaStore
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
    from flowctory.adapters.webhook_ledger import DynamoWebhookLedger

TIKTOK = "tiktok"
PUBLISH_COMPLETE = "post.publish.complete"
PUBLISH_FAILED = "post.publish.failed"
PUBLICLY_AVAILABLE = "post.publish.publicly_available"
AUTHORIZATION_REMOVED = "authorization.removed"
HANDLED = {PUBLISH_COMPLETE, PUBLISH_FAILED, PUBLICLY_AVAILABLE, AUTHORIZATION_REMOVED}

WebhookOutcome = Literal["processed", "duplicate", "ignored"]


@dataclass
class TikTokWebhookDeps:
    client_key: str
    client_secret: Callable[[], str]
    ledger: "DynamoWebhookLedger"
    posts: "PostRepository"
    accounts: "TikTokAccountRepository"
    media: "S3MediaStore"


def receive_tiktok_webhook(
    deps: TikTokWebhookDeps, *, payload: bytes, signature: str | None, now: datetime
) -> WebhookOutcome:
    """Verify one delivery, then apply it once.

    Raises:
        WebhookSignatureError: missing, malformed, stale or wrong signature (nothing is read or written).
        BadRequest: a signed body that is not a TikTok event.
        Conflict: another delivery of the same event is being processed; TikTok will deliver it again.
    """
    verify_signature(signature, payload, deps.client_secret(), now=now.timestamp())
    event = parse_event(payload)
    if event.client_key != deps.client_key or event.event not in HANDLED:
        logger.info("tiktok webhook ignored", tiktok_event=event.event)
        return "ignored"
    event_id = hashlib.sha256(event.idempotency_key.encode()).hexdigest()
    claim = deps.ledger.claim(TIKTOK, event_id, event_type=event.event, now=now)
    if claim == "done":
        return "duplicate"
    if claim == "busy":
        raise Conflict("This event is being processed; TikTok will deliver it again.", code="event_in_progress")
    try:
        _apply(deps, event, now)
    except Exception:
        deps.ledger.release(TIKTOK, event_id)
        raise
    deps.ledger.complete(TIKTOK, event_id, now=now)
    logger.info("tiktok webhook processed", tiktok_event=event.event)
    return "processed"


def _apply(deps: TikTokWebhookDeps, event: WebhookEvent, now: datetime) -> None:
    if event.event == AUTHORIZATION_REMOVED:
        for user_id in deps.accounts.owners(event.user_openid):
            try:
                deps.accounts.require_reconnect(user_id, event.user_openid, reason="authorization_removed")
            except Conflict:
                continue  # disconnected meanwhile
        return
    publish_id = str(event.content.get("publish_id") or "")
    found = deps.posts.find_by_publish_id(publish_id) if publish_id else None
    if found is None or found[2] != event.user_openid:
        logger.info("tiktok webhook for an unknown publish ignored", tiktok_event=event.event)
        return
    user_id, post_id, _ = found
    post = deps.posts.get(user_id, post_id)
    if post is None or post.publish_id != publish_id:
        return
    if event.event == PUBLISH_FAILED:
        if post.status is PostStatus.PROCESSING:
            reason = str(event.content.get("reason") or "") or None
            failure = tiktok_errors.publish_failure(reason, publish_id=publish_id)
            stored = PostFailure(code=reason or "tiktok_failed", message=str(failure), retryable=failure.retryable)
            _finish(lambda: deps.posts.mark_failed(user_id, post_id, failure=stored, now=now))
        return
    tiktok_post_id = str(event.content.get("post_id") or "") or None if event.event == PUBLICLY_AVAILABLE else None
    if post.status is PostStatus.PROCESSING:
        _finish(lambda: deps.posts.mark_published(user_id, post_id, tiktok_post_id=tiktok_post_id, now=now))
        deps.media.delete(post.video.key)  # promise P07, whichever of the webhook and the poll sees it first
    elif post.status is PostStatus.PUBLISHED and tiktok_post_id and post.tiktok_post_id != tiktok_post_id:
        _finish(lambda: deps.posts.record_public_post_id(user_id, post_id, tiktok_post_id=tiktok_post_id, now=now))


def _finish(transition: Callable[[], object]) -> None:
    """A transition the upload function may have made first: losing that race is fine."""
    try:
        transition()
    except Conflict:
        logger.info("post already moved on")

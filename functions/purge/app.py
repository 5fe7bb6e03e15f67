"""Purge (EventBridge Scheduler, every 15 minutes): enforces the retention promises of the privacy policy
and carries out account erasures. Each sweep is one call; a new sweep adds one call and one result key.

Invoked with {"erase_user_id": ...} (asynchronously, by DELETE /me), it runs that one erasure at once;
with {"sweep": "reconnect_warnings"} (daily), it warns of TikTok accounts to reconnect before a post;
with {"sweep": "resume_posts"} (when a user lifts a restriction), it runs the stuck and overdue posts sweep.
Each kind of run imports only the domain it needs.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import data_rights_wiring, publishing_wiring, wiring
from flowctory.clock import utcnow
from flowctory.observability import logger, metrics, tracer


def _erase_one(user_id: str) -> dict[str, Any]:
    """The erasure DELETE /me asked for. A failure is left to the sweep (which resumes it), rather than to
    Lambda's failure destination, whose message would carry the user's id for days."""
    from flowctory.domain import erasure

    try:
        counts = erasure.erase_user(data_rights_wiring.erasure(), user_id)
    except Exception:  # the request item stays; the next sweep resumes the erasure
        logger.exception("account erasure failed; the next sweep resumes it")
        metrics.add_metric(name="ErasuresFailed", unit="Count", value=1)
        return {"accounts_erased": 0, "erasures_failed": 1}
    metrics.add_metric(name="AccountsErased", unit="Count", value=int(counts is not None))
    return {"accounts_erased": int(counts is not None), "erasures_failed": 0}


def _resume_posts() -> dict[str, Any]:
    from flowctory.domain import reconcile

    swept = reconcile.reconcile_posts(
        publishing_wiring.posts(), publishing_wiring.post_scheduler(), now=publishing_wiring.clock()
    )
    metrics.add_metric(name="PostsResumed", unit="Count", value=len(swept.resumed))
    return {"posts_resumed": len(swept.resumed)}


def _warn_reconnects() -> dict[str, Any]:
    from flowctory.domain import reconnect_warnings

    report = reconnect_warnings.warn_reconnect_needed(publishing_wiring.reconnect_warnings(), now=utcnow())
    metrics.add_metric(name="ReconnectWarningsSent", unit="Count", value=len(report.warned))
    return {"reconnect_warnings_sent": len(report.warned), "accounts_checked": report.accounts_checked}


def _sweep(context: LambdaContext) -> dict[str, Any]:
    """The 15-minute run: videos past the retention window, expired metadata, lost posts, erasures."""
    from flowctory.domain import erasure, retention

    report = retention.purge_expired_videos(wiring.media_store(), now=utcnow(), retention=wiring.video_retention())
    logger.info("video retention sweep done", deleted=len(report.deleted_keys))
    metrics.add_metric(name="VideosPurged", unit="Count", value=len(report.deleted_keys))
    expired = retention.purge_expired_metadata(data_rights_wiring.expiring_items(), now=publishing_wiring.clock())
    metrics.add_metric(name="ExpiredItemsPurged", unit="Count", value=expired.deleted)
    resumed = _resume_posts()
    erased = erasure.erase_pending(
        data_rights_wiring.expiring_items(),
        data_rights_wiring.erasure,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    metrics.add_metric(name="AccountsErased", unit="Count", value=erased.erased)
    metrics.add_metric(name="ErasuresFailed", unit="Count", value=erased.failed)
    return {
        "videos_deleted": len(report.deleted_keys),
        **resumed,
        "expired_items_deleted": expired.deleted,
        "accounts_erased": erased.erased,
        "erasures_failed": erased.failed,
    }


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and isinstance(event.get("erase_user_id"), str):
        return _erase_one(event["erase_user_id"])
    sweep = event.get("sweep") if isinstance(event, dict) else None
    if sweep == "reconnect_warnings":
        return _warn_reconnects()
    if sweep == "resume_posts":
        return _resume_posts()
    return _sweep(context)

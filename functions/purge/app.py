"""Purge (EventBridge Scheduler, every 15 minutes): enforces the retention promises of the privacy policy."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import publishing_wiring, wiring
from flowctory.clock import utcnow
from flowctory.domain import reconcile, retention
from flowctory.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    report = retention.purge_expired_videos(wiring.media_store(), now=utcnow(), retention=wiring.video_retention())
    logger.info("video retention sweep done", deleted=len(report.deleted_keys))
    metrics.add_metric(name="VideosPurged", unit="Count", value=len(report.deleted_keys))
    swept = reconcile.reconcile_posts(
        publishing_wiring.posts(), publishing_wiring.post_scheduler(), now=publishing_wiring.clock()
    )
    metrics.add_metric(name="PostsResumed", unit="Count", value=len(swept.resumed))
    return {"videos_deleted": len(report.deleted_keys), "posts_resumed": len(swept.resumed)}

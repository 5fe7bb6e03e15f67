"""Publish (EventBridge Scheduler, one schedule per post): publishes one due post to TikTok, exactly once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory.models.events import PublishPostEvent
from flowctory.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = PublishPostEvent.model_validate(event)
    logger.append_keys(user_id=request.user_id, post_id=request.post_id)
    # The publish path (claim, token refresh, Direct Post init, chunked stream, status) is issue #7.
    raise NotImplementedError("publishing is not built yet (issue #7)")

"""Publish (EventBridge Scheduler: a post's schedule and its follow-ups): publishes one due post to TikTok, once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import publishing_wiring
from flowctory.domain import publishing
from flowctory.models.events import PublishPostEvent
from flowctory.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = PublishPostEvent.model_validate(event)
    logger.append_keys(user_id=request.user_id, post_id=request.post_id)
    result = publishing.publish_post(publishing_wiring.publisher(), user_id=request.user_id, post_id=request.post_id)
    metrics.add_metric(name=f"Publish{result.outcome.value.capitalize()}", unit="Count", value=1)
    return result.as_dict()

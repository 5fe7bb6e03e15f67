"""TikTok connection API (API Gateway HTTP API): connect, callback, list, creator info and disconnect accounts."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import access_log, sessions, wiring
from flowctory.api import tiktok
from flowctory.http import create_app
from flowctory.observability import logger, metrics, tracer

app = create_app()
access_log.install(app)
sessions.install(app, wiring.sessions)
app.include_router(tiktok.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)

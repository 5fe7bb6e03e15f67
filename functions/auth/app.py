"""Auth API (API Gateway HTTP API): sign-up, sign-in (e-mail, Google, Facebook), sessions, the profile and
data rights (export, restriction, erasure, consents)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import access_log, sessions, wiring
from flowctory.api import auth, data_rights, me, oauth
from flowctory.http import create_app
from flowctory.observability import logger, metrics, tracer

app = create_app()
access_log.install(app)
sessions.install(app, wiring.sessions)
app.include_router(auth.router)
app.include_router(oauth.router)
app.include_router(me.router)
app.include_router(data_rights.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)

"""Request logging for HTTP functions: the technical data the privacy policy §2.6 lists (promise P09).

Each request's log lines carry its source IP and user agent, and one line records the method,
path (never the query string, which can hold OAuth codes) and status. Headers, cookies and bodies
are never logged: they carry passwords, tokens and session cookies.
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from flowctory.observability import logger

REQUEST_KEYS = ("source_ip", "user_agent", "method", "path", "user_id")


def log_request(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
    event = app.current_event
    http = event.raw_event.get("requestContext", {}).get("http", {})
    logger.remove_keys(list(REQUEST_KEYS))  # a warm container must not carry the previous request's keys
    logger.append_keys(
        source_ip=http.get("sourceIp"),
        user_agent=http.get("userAgent") or event.headers.get("user-agent"),
        method=event.http_method,
        path=event.path,
    )
    response = next_middleware(app)
    logger.info("request handled", status=response.status_code)
    return response


def install(app: ApiGatewayResolver) -> None:
    """Log every request of `app` (add it before the session guard, so refusals are logged too)."""
    app.use(middlewares=[log_request])

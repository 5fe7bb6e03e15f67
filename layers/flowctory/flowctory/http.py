"""HTTP glue for every API function: the resolver factory and the one mapping of errors to responses.

Every error reaches the client as `{"error": {"code", "message", ...}}`. Unknown exceptions become a
500 that carries the request id (the same id as API Gateway's `apigw-requestid` header and the
log's correlation id) and nothing else: the stack trace goes to the log, and the 5xx alarm on the
API counts these responses.
"""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from flowctory import errors
from flowctory.models.base import Model
from flowctory.observability import logger

STATUS_BY_ERROR: dict[type[errors.AppError], HTTPStatus] = {
    errors.BadRequest: HTTPStatus.BAD_REQUEST,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.InvalidState: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    errors.UpstreamError: HTTPStatus.BAD_GATEWAY,
}

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class FieldProblem(Model):
    field: str
    problem: str


class ErrorDetail(Model):
    code: str
    message: str
    request_id: str | None = None
    fields: list[FieldProblem] | None = None


class ErrorBody(Model):
    error: ErrorDetail


def error_response(status: HTTPStatus, detail: ErrorDetail) -> Response:
    body = ErrorBody(error=detail).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def status_for(error: errors.AppError) -> HTTPStatus:
    """The status of the closest mapped ancestor of `error`'s class."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.BAD_REQUEST


def add_security_headers(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    response = next_middleware(app)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _request_id(app: APIGatewayHttpResolver) -> str | None:
    try:
        return str(app.current_event.request_context.request_id)
    except (AttributeError, KeyError):
        return None


def create_app() -> APIGatewayHttpResolver:
    """An HTTP API resolver with request validation, OpenAPI, and the project's error mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)
    app.use(middlewares=[add_security_headers])

    @app.exception_handler(errors.AppError)
    def handle_app_error(error: errors.AppError) -> Response:
        status = status_for(error)
        logger.info("request refused", error_code=error.code, status=int(status))
        fields = None
        if isinstance(error, errors.ValidationFailed):
            fields = [FieldProblem(field=name, problem=problem) for name, problem in error.fields.items()]
        return error_response(status, ErrorDetail(code=error.code, message=error.message, fields=fields))

    @app.exception_handler(RequestValidationError)
    def handle_validation_error(error: RequestValidationError) -> Response:
        problems = error.errors()
        logger.info("request failed validation", errors=[{"loc": p["loc"], "type": p["type"]} for p in problems])
        if any(p["type"] == "json_invalid" for p in problems):
            detail = ErrorDetail(code="malformed_json", message="The request body is not valid JSON.")
            return error_response(HTTPStatus.BAD_REQUEST, detail)
        fields = [FieldProblem(field=_field_path(p["loc"]), problem=p["msg"]) for p in problems]
        message = "Some fields are missing or invalid: " + ", ".join(f.field for f in fields) + "."
        detail = ErrorDetail(code="validation_error", message=message, fields=fields)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, detail)

    @app.not_found
    def handle_not_found(_: NotFoundError) -> Response:
        detail = ErrorDetail(code="not_found", message="No such route.")
        return error_response(HTTPStatus.NOT_FOUND, detail)

    @app.exception_handler(Exception)
    def handle_unexpected_error(error: Exception) -> Response:
        request_id = _request_id(app)
        logger.exception("unhandled error", request_id=request_id)
        detail = ErrorDetail(
            code="internal_error",
            message="Something went wrong on our side. Please try again, and quote the request id if it persists.",
            request_id=request_id,
        )
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, detail)

    return app


def _field_path(location: Any) -> str:
    return ".".join(str(part) for part in location)

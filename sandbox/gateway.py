"""A local API Gateway HTTP API: template routes to in-process handlers, with payload-v2 events.

What it reproduces of API Gateway, because handlers and the web console depend on it:
- routing by the `HttpApi` events of template.yaml: exact paths first, then paths with `{param}`
  segments (more literal segments first), greedy `{proxy+}` last; `ANY` after a named method;
  no matching route gives 404 `{"message":"Not Found"}`;
- the payload-v2 event: lower-cased headers (repeats joined with commas), `cookies`, raw and
  parsed query strings, path parameters, `requestContext.http.sourceIp`/`userAgent`, a request id
  (also sent back in `apigw-requestid`), and a body that is base64-encoded unless it is text
  (text/*, JSON, XML, JavaScript; form posts are base64, as on AWS);
- the response: status, headers, one Set-Cookie per entry of `cookies`, base64 bodies decoded,
  and a bare JSON value (no `statusCode`) sent as a 200 JSON body;
- CORS from the HttpApi's CorsConfiguration: preflights answered by the gateway itself, the
  configured headers added to responses for allowed origins, the handlers' own CORS headers dropped;
- limits: bodies over 10 MB get 413; a handler exception or a malformed handler result gives a
  500 with the request id and nothing else (the stack trace goes to the sandbox log); if the
  functions stay busy for 30 s (API Gateway's integration timeout) the answer is a 503.

Sub-applications (simulators' pages) can be mounted under a path prefix, sandbox pages (health,
docs, outbox...) are served when no template route matches, and the web console's static files
come last.
"""

import base64
import binascii
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from sandbox.events import http_api_event
from sandbox.runtime import FunctionRuntime, RuntimeBusyError, UnknownFunctionError
from sandbox.stack import LocalStack
from sandbox.template import HttpRoute, resources_of_type

MAX_BODY_BYTES = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 30.0
# Reading (and discarding) an oversized body lets the client finish sending and read the 413.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
RESERVED_PREFIX = "/_sandbox/"

TEXT_CONTENT_TYPE = re.compile(r"^(text/[^;]+|application/(json|javascript|xml|[^;]+\+json|[^;]+\+xml))\s*(;.*)?$")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LocalRoute = Callable[[Request], Response]

log = logging.getLogger("sandbox.gateway")


class GatewayRequest(Request):
    max_content_length = MAX_BODY_BYTES


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    priority: tuple[int, int, int, int]


class RouteTable:
    """Matches a method and path to the most specific route, as API Gateway HTTP APIs do."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        compiled = [self._compile(route) for route in routes]
        self._routes = sorted(compiled, key=lambda item: item.priority)

    @property
    def routes(self) -> list[HttpRoute]:
        return [item.route for item in self._routes]

    def match(self, method: str, path: str) -> RouteMatch | None:
        for item in self._routes:
            if item.route.method not in ("ANY", method):
                continue
            found = item.pattern.fullmatch(path)
            if found:
                values = {name: found.group(f"p{index}") for index, name in enumerate(item.names)}
                return RouteMatch(route=item.route, path_parameters=values)
        return None

    @staticmethod
    def _compile(route: HttpRoute) -> _CompiledRoute:
        if route.path == "$default":
            return _CompiledRoute(route, re.compile(r".*"), (), (3, 0, 0, 1))
        parts: list[str] = []
        names: list[str] = []
        literal, greedy = 0, False
        for segment in route.path.strip("/").split("/"):
            variable = re.fullmatch(r"\{([^{}+]+)(\+?)\}", segment)
            if variable is None:
                parts.append(re.escape(segment))
                literal += 1
                continue
            group = f"p{len(names)}"
            names.append(variable.group(1))
            if variable.group(2):
                greedy = True
                parts.append(f"(?P<{group}>.+)")
            else:
                parts.append(f"(?P<{group}>[^/]+)")
        pattern = re.compile("/" + "/".join(parts))
        priority = (2 if greedy else (1 if names else 0), -literal, -len(parts), int(route.method == "ANY"))
        return _CompiledRoute(route, pattern, tuple(names), priority)


@dataclass(frozen=True)
class CorsPolicy:
    """The HttpApi's CorsConfiguration, applied the way API Gateway applies it."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    @classmethod
    def from_stack(cls, stack: LocalStack) -> "CorsPolicy | None":
        """The CorsConfiguration of the template's (first) HttpApi, resolved; None when there is none."""
        for resource in resources_of_type(stack.template, "AWS::Serverless::HttpApi").values():
            config = resource.get("Properties", {}).get("CorsConfiguration")
            if config is True:
                return cls(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
            if isinstance(config, dict):
                resolved = stack.resolver.resolve(config)
                return cls(
                    allow_origins=tuple(resolved.get("AllowOrigins", ())),
                    allow_methods=tuple(method.upper() for method in resolved.get("AllowMethods", ())),
                    allow_headers=tuple(header.lower() for header in resolved.get("AllowHeaders", ())),
                    expose_headers=tuple(resolved.get("ExposeHeaders", ())),
                    allow_credentials=bool(resolved.get("AllowCredentials", False)),
                    max_age=resolved.get("MaxAge"),
                )
        return None

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def _origin_header(self, origin: str) -> str:
        return "*" if "*" in self.allow_origins and not self.allow_credentials else origin

    def preflight_headers(self, origin: str, method: str, requested_headers: str) -> dict[str, str]:
        if not self.allows(origin):
            return {}
        methods = method if "*" in self.allow_methods else ",".join(self.allow_methods)
        headers = requested_headers if "*" in self.allow_headers else ",".join(self.allow_headers)
        result = {"Access-Control-Allow-Origin": self._origin_header(origin), "Access-Control-Allow-Methods": methods}
        if headers:
            result["Access-Control-Allow-Headers"] = headers
        if self.allow_credentials:
            result["Access-Control-Allow-Credentials"] = "true"
        if self.max_age is not None:
            result["Access-Control-Max-Age"] = str(self.max_age)
        return result

    def response_headers(self, origin: str) -> dict[str, str]:
        if not self.allows(origin):
            return {}
        result = {"Access-Control-Allow-Origin": self._origin_header(origin)}
        if self.allow_credentials:
            result["Access-Control-Allow-Credentials"] = "true"
        if self.expose_headers:
            result["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        return result


class IntegrationError(ValueError):
    """A handler returned something API Gateway could not turn into a response."""


class Gateway:
    """The WSGI application behind the gateway port."""

    def __init__(
        self,
        runtime: FunctionRuntime,
        routes: Iterable[HttpRoute],
        *,
        cors: CorsPolicy | None = None,
        local_routes: Mapping[str, LocalRoute] | None = None,
        mounts: Mapping[str, WsgiApp] | None = None,
        static_dir: Path | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.routes = RouteTable(routes)
        self.cors = cors
        self.local_routes: dict[str, LocalRoute] = dict(local_routes or {})
        self.mounts: dict[str, WsgiApp] = dict(mounts or {})
        self.static_dir = static_dir
        self.integration_timeout = integration_timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        for prefix, app in self.mounts.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return app(environ, start_response)
        started = time.monotonic()
        request = GatewayRequest(environ)
        request_id = _request_id()
        try:
            response = self._dispatch(request, request_id)
        except Exception:
            log.exception("the gateway failed on %s %s (request id %s)", request.method, request.path, request_id)
            response = _message(500, "Internal Server Error", request_id)
        response.headers["apigw-requestid"] = request_id
        log.info(
            "%s %s -> %s in %.0f ms",
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request, request_id: str) -> Response:
        path = request.path
        origin = request.headers.get("Origin")
        if path.startswith(RESERVED_PREFIX):
            return self._local(request) or _message(404, "Not Found")
        if self.cors and request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
            headers = self.cors.preflight_headers(
                origin,
                request.headers["Access-Control-Request-Method"].upper(),
                request.headers.get("Access-Control-Request-Headers", ""),
            )
            return Response(status=204, headers=headers)
        match = self.routes.match(request.method, path)
        if match is not None:
            response = self._invoke(request, match, request_id)
            if self.cors:
                for name in {name for name, _ in response.headers if name.lower().startswith("access-control-")}:
                    del response.headers[name]
                if origin:
                    response.headers.update(self.cors.response_headers(origin))
            return response
        return self._local(request) or self._static(request) or _message(404, "Not Found")

    def _local(self, request: Request) -> Response | None:
        route = self.local_routes.get(request.path)
        if route is None:
            return None
        if request.method not in ("GET", "HEAD"):
            return _message(405, "Method Not Allowed")
        return route(request)

    def _static(self, request: Request) -> Response | None:
        if self.static_dir is None or not self.static_dir.is_dir() or request.method not in ("GET", "HEAD"):
            return None
        relative = request.path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        try:
            response: Response = send_from_directory(self.static_dir, relative, request.environ)
        except NotFound:
            return None
        return response

    def _invoke(self, request: Request, match: RouteMatch, request_id: str) -> Response:
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            _drain(request)
            response = _message(413, "Request Entity Too Large")
            response.headers["Connection"] = "close"
            return response
        event = self._event(request, match, body, request_id)
        function_id = match.route.function_id
        try:
            result = self.runtime.invoke(function_id, event, request_id=request_id, wait=self.integration_timeout)
        except RuntimeBusyError:
            log.warning("%s stayed busy for %.0f s; answering 503", function_id, self.integration_timeout)
            return _message(503, "Service Unavailable")
        except UnknownFunctionError:
            log.error("route %s points at %s, which the sandbox does not know", match.route.route_key, function_id)
            return _message(500, "Internal Server Error", request_id)
        except Exception:
            log.exception("%s raised (request id %s)", function_id, request_id)
            return _message(500, "Internal Server Error", request_id)
        try:
            return lambda_result_to_response(result)
        except IntegrationError as error:
            log.error("%s returned a malformed response (request id %s): %s", function_id, request_id, error)
            return _message(500, "Internal Server Error", request_id)

    def _event(self, request: Request, match: RouteMatch, body: bytes, request_id: str) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            if key == "cookie":
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        source_ip = request.remote_addr or "127.0.0.1"
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
        headers["x-forwarded-proto"] = request.scheme
        headers["x-forwarded-port"] = str(request.environ.get("SERVER_PORT", ""))
        cookie_header = request.headers.get("Cookie", "")
        cookies = [part.strip() for part in cookie_header.split(";") if part.strip()]
        query = {name: request.args.getlist(name) for name in request.args}
        raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        raw_path = raw_uri.split("?", 1)[0]
        text = _is_text(headers.get("content-type"), headers.get("content-encoding"), body)
        return http_api_event(
            request.method,
            raw_path,
            route_key=match.route.route_key,
            headers=headers,
            cookies=cookies or None,
            query={name: values[0] if len(values) == 1 else values for name, values in query.items()} or None,
            path_parameters=match.path_parameters or None,
            body=body if body else None,
            source_ip=source_ip,
            user_agent="",
            request_id=request_id,
            raw_path=raw_path,
            raw_query_string=request.environ.get("QUERY_STRING", ""),
            base64_body=not text,
        )


def lambda_result_to_response(result: Any) -> Response:
    """Turn a handler's payload-v2 result into the HTTP response API Gateway would send."""
    if not (isinstance(result, dict) and "statusCode" in result):
        bare = result if isinstance(result, str) else json.dumps(result)
        return Response(bare, status=200, content_type="application/json")
    try:
        status = int(result["statusCode"])
        text = result.get("body") or ""
        if not isinstance(text, str):
            raise IntegrationError("body is not a string")
        data = base64.b64decode(text, validate=True) if result.get("isBase64Encoded") else text.encode()
    except (TypeError, ValueError, binascii.Error) as error:
        raise IntegrationError(str(error)) from None
    if not 100 <= status <= 599:
        raise IntegrationError(f"status {status} is not an HTTP status")
    response = Response(data, status=status)
    del response.headers["Content-Type"]
    for name, value in (result.get("headers") or {}).items():
        if name.lower() != "content-length":
            response.headers.add(name, str(value))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def _is_text(content_type: str | None, content_encoding: str | None, body: bytes) -> bool:
    """API Gateway passes a body as text only when its type is textual and it is not compressed."""
    if not body:
        return True
    if content_encoding or not content_type or not TEXT_CONTENT_TYPE.match(content_type.strip().lower()):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _drain(request: Request) -> None:
    stream = request.environ["wsgi.input"]
    remaining = min(request.content_length or 0, DRAIN_LIMIT_BYTES)
    while remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            break
        remaining -= len(chunk)


def _message(status: int, message: str, request_id: str | None = None) -> Response:
    body: dict[str, str] = {"message": message}
    if request_id:
        body["requestId"] = request_id
    return Response(json.dumps(body), status=status, content_type="application/json")


def _request_id() -> str:
    """An id shaped like API Gateway's (`apigw-requestid`)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()

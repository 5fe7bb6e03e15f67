"""Builds API Gateway HTTP API (payload format 2.0) events, as Lambda receives them.

The local gateway turns each HTTP request into one of these; tests build them directly.
"""

import base64
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sandbox.stack import ACCOUNT_ID


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: list[str] | None = None,
    query: Mapping[str, str | list[str]] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "flowctory-tests",
    request_id: str | None = None,
    raw_path: str | None = None,
    raw_query_string: str | None = None,
    base64_body: bool | None = None,
) -> dict[str, Any]:
    """One payload-v2 event. Binary bodies are base64-encoded as API Gateway does; repeated query
    parameters are joined with commas in `queryStringParameters`, as on AWS.

    The local gateway passes what it received verbatim: `raw_path` and `raw_query_string` as sent
    (still percent-encoded), and `base64_body` as decided from the request's content type. Left out,
    `base64_body` encodes only bodies that are not valid UTF-8.
    """
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    if user_agent:
        lowered.setdefault("user-agent", user_agent)
    if cookies:
        lowered["cookie"] = "; ".join(cookies)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": raw_path if raw_path is not None else path,
        "rawQueryString": raw_query_string if raw_query_string is not None else urlencode(query or {}, doseq=True),
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id or secrets.token_hex(8),
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = list(cookies)
    if query:
        event["queryStringParameters"] = {
            name: ",".join(value) if isinstance(value, list) else value for name, value in query.items()
        }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        if base64_body is None:
            if isinstance(body, str):
                event["body"] = body
                return event
            try:
                event["body"] = raw.decode("utf-8")
                return event
            except UnicodeDecodeError:
                base64_body = True
        if base64_body:
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw.decode("utf-8")
    return event

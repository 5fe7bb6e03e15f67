"""Lambda's asynchronous Invoke, answered by the sandbox: moto knows none of the local stack's functions.

A function that starts another one at once (`DELETE /me` starts the erasure in the purge function,
lifting a restriction starts the post sweep) calls Lambda's `Invoke` with `InvocationType: Event`.
`AsyncInvokes` sits in front of moto and hands such a call to the scheduler runner, which runs it at
its next tick with the function's retries, as Lambda would, and answers 202 as Lambda does. Every
other request (any other Lambda call included) goes to moto unchanged.
"""

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from sandbox.scheduler import SchedulerRunner

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class AsyncInvokes:
    """WSGI middleware: asynchronous Lambda invocations of the local stack's functions (see module doc)."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], runner: Callable[[], SchedulerRunner | None], *, arn_prefix: str
    ) -> None:
        self._app = app
        self._runner = runner
        self._arn_prefix = arn_prefix  # arn:aws:lambda:<region>:<account>:function:

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        matched = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        runner = self._runner()
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or matched is None
            or environ.get("HTTP_X_AMZ_INVOCATION_TYPE") != "Event"
            or runner is None
        ):
            return self._app(environ, start_response)
        name = unquote(matched.group("name"))
        arn = name if name.startswith("arn:") else self._arn_prefix + name
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            return _answer(start_response, "400 Bad Request", {"Type": "User", "message": "Payload is not JSON."})
        request_id = runner.invoke_async(arn, event)
        if request_id is None:
            problem = {"Type": "User", "message": f"Function not found: {arn}"}
            return _answer(start_response, "404 Not Found", problem, error_type="ResourceNotFoundException")
        start_response("202 Accepted", [("x-amzn-RequestId", request_id), ("Content-Length", "0")])
        return [b""]


def _answer(
    start_response: Callable[..., Any],
    status: str,
    body: dict[str, str],
    *,
    error_type: str = "InvalidRequestContentException",
) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error_type),
        ("Content-Length", str(len(data))),
    ]
    start_response(status, headers)
    return [data]

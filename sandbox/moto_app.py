"""moto's server application as the sandbox runs it: ranged S3 reads cost the range, as on S3.

moto answers a `GET` with `Range: bytes=a-b` by copying the whole object out of its store and then
slicing it. Publishing reads a video in 10 MB ranges, so a 1 GiB video costs moto a hundred full
copies (about 100 GiB of memory traffic) where S3 reads 1 GiB: the sandbox, and any benchmark run
on it, would measure moto rather than Flowctory. `RangedReads` sits in front of moto and answers
the plain case itself, from moto's own stored object, by seeking: an authenticated single-range
`GET` of an existing object, path-style, with no query string (no version, no presigning) and no
conditional header. It answers with moto's own object headers (ETag, Last-Modified, encryption)
plus `Content-Range`, status 206. Everything else, errors included, goes to moto unchanged.

Run on its own (as the benchmarks do): `python -m sandbox.moto_app --port 4566`.
"""

import argparse
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
CONDITIONAL_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


class RangedReads:
    """WSGI middleware: single-range S3 GETs of whole stored objects, read by seeking (see module doc)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, account_id: str) -> None:
        self._app = app
        self._account_id = account_id

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = self._ranged_read(environ)
        if answer is None:
            return self._app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _ranged_read(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        if "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
            return None
        if any(header in environ for header in CONDITIONAL_HEADERS):
            return None
        wanted = RANGE.match(environ.get("HTTP_RANGE", ""))
        bucket, _, key_name = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
        if wanted is None or not bucket or not key_name:
            return None
        key = self._stored_object(bucket, key_name)
        if key is None or int(wanted.group(1)) >= key.size:
            return None  # moto says NoSuchKey / InvalidRange itself
        first = int(wanted.group(1))
        last = min(int(wanted.group(2) or key.size - 1), key.size - 1)
        if last < first:
            return None
        with key.lock:  # the stored object is one file shared by every request thread
            key._value_buffer.seek(first)  # moto keeps the bytes there (module doc)
            body = key._value_buffer.read(last - first + 1)
        headers = {name.lower(): str(value) for name, value in {**key.metadata, **key.response_dict}.items()}
        headers.update(
            {
                "content-length": str(len(body)),
                "content-range": f"bytes {first}-{last}/{key.size}",
                "accept-ranges": "bytes",
            }
        )
        return "206 Partial Content", list(headers.items()), body

    def _stored_object(self, bucket: str, key_name: str) -> Any:
        from moto.s3.models import s3_backends

        try:
            return s3_backends[self._account_id]["aws"].get_object(bucket, key_name)
        except Exception:  # a missing bucket, a delete marker...: moto answers those itself
            return None


def moto_app(account_id: str) -> Callable[..., Iterable[bytes]]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return RangedReads(DomainDispatcherApplication(create_backend_app), account_id=account_id)


def main() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    from sandbox.stack import ACCOUNT_ID

    parser = argparse.ArgumentParser(description="moto, with ranged S3 reads that cost the range")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    run_simple(args.host, args.port, moto_app(ACCOUNT_ID), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

"""Serves the IdP simulator over real HTTP on 127.0.0.1, in a background thread."""

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.idp_sim.app import IdpSimulator


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry authorization codes and access tokens."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class IdpServer:
    """`with IdpServer(simulator) as server:` serves on a free port; `server.url` is its base URL."""

    def __init__(self, simulator: IdpSimulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self._server: BaseWSGIServer = make_server(host, port, simulator, threaded=True, request_handler=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.server_port}"

    def start(self) -> "IdpServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="idp-sim-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "IdpServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

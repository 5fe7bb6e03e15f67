"""Serves a TikTokSimulator over real HTTP on 127.0.0.1, in a background thread."""

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.tiktok_sim.app import TikTokSimulator


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry upload tokens, and test output should stay readable."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SimulatorServer:
    """`with SimulatorServer() as server:` serves on a free port; `server.url` is its base URL."""

    def __init__(self, simulator: TikTokSimulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator or TikTokSimulator()
        self._server: BaseWSGIServer = make_server(
            host, port, self.simulator, threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self.port}"

    def start(self) -> "SimulatorServer":
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="tiktok-sim-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self.simulator.close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

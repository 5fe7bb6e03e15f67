"""How the sandbox runs the simulator (`create_service`, see sandbox/services.py): on its own port,
with the app's client key and secret, the redirect URIs and webhook URL read from template.yaml."""

import os
from collections.abc import Mapping
from typing import Any

from sandbox.template import http_routes
from sandbox.tiktok_sim.app import TikTokSimulator
from sandbox.tiktok_sim.config import SimulatorConfig
from sandbox.tiktok_sim.server import SimulatorServer

SANDBOX_CLIENT_KEY = "sbawflowctorysandbox"


class TikTokSimulatorService:
    name = "tiktok"

    def __init__(self, context: Any) -> None:
        from sandbox.stack import LOCAL_SECRET_VALUES

        self._host = context.host
        self._port = int(context.ports.get("tiktok", 3100))
        self._template_client_key = context.stack.ref("TikTokClientKey") if _has_parameter(context) else ""
        gateway = context.gateway_url.rstrip("/")
        routes = http_routes(context.stack.template)
        callbacks = [r.path for r in routes if "tiktok" in r.path and "callback" in r.path] or ["/tiktok/callback"]
        hooks = [r.path for r in routes if r.method == "POST" and "webhooks/tiktok" in r.path]
        origins = {gateway, gateway.replace("127.0.0.1", "localhost"), gateway.replace("localhost", "127.0.0.1")}
        extra = [u for u in os.environ.get("TIKTOK_SIM_REDIRECT_URIS", "").split(",") if u]
        self.config = SimulatorConfig(
            client_key=self._template_client_key or SANDBOX_CLIENT_KEY,
            client_secret=LOCAL_SECRET_VALUES["TikTokClientSecret"],
            redirect_uris=sorted({origin + path for origin in origins for path in callbacks} | set(extra)),
            webhook_url=gateway + hooks[0] if hooks else None,
        )
        self._server: SimulatorServer | None = None

    @property
    def url(self) -> str | None:
        return self._server.url if self._server else f"http://{self._host}:{self._port}"

    def start(self) -> None:
        self._server = SimulatorServer(TikTokSimulator(self.config), host=self._host, port=self._port).start()

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None

    def environment(self) -> Mapping[str, str]:
        url = self.url or ""
        environment = {"TIKTOK_API_BASE_URL": url, "TIKTOK_AUTH_BASE_URL": url}
        if not self._template_client_key:
            environment["TIKTOK_CLIENT_KEY"] = self.config.client_key
        return environment

    def mounts(self) -> Mapping[str, Any]:
        return {}


def _has_parameter(context: Any) -> bool:
    return "TikTokClientKey" in context.stack.template.get("Parameters", {})


def create_service(context: Any) -> TikTokSimulatorService:
    return TikTokSimulatorService(context)

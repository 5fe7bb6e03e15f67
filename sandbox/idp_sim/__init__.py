"""Simulated Google and Facebook sign-in for the sandbox and the tests.

`create_app()` gives the WSGI application, `IdpServer` serves it on a local port (tests use port
0), `environment(url)` the settings that point the auth function at it, `create_service(context)`
the sandbox's hook, and `python -m sandbox.idp_sim` runs it standalone on 127.0.0.1:3200.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.idp_sim.app import GRAPH_VERSION, Client, IdpSimulator, TestIdentity, default_identities
from sandbox.idp_sim.server import IdpServer

__all__ = [
    "Client",
    "IdpServer",
    "IdpSimulator",
    "TestIdentity",
    "create_app",
    "create_service",
    "default_identities",
    "environment",
]

DEFAULT_PORT = 3200
SANDBOX_GOOGLE_CLIENT_ID = "sandbox-google-client.apps.local"
SANDBOX_FACEBOOK_APP_ID = "100000000000042"


def create_app(identities: Iterable[TestIdentity] | None = None, *, redirect_uris: Iterable[str] = ()) -> IdpSimulator:
    """The simulator with the sandbox's client ids and the secrets the local stack puts in Secrets Manager."""
    from sandbox.stack import LOCAL_SECRET_VALUES

    uris = tuple(redirect_uris)
    return IdpSimulator(
        google=Client(SANDBOX_GOOGLE_CLIENT_ID, LOCAL_SECRET_VALUES["GoogleClientSecret"], uris),
        facebook=Client(SANDBOX_FACEBOOK_APP_ID, LOCAL_SECRET_VALUES["FacebookAppSecret"], uris),
        identities=list(identities) if identities is not None else default_identities(),
    )


def environment(url: str, simulator: IdpSimulator | None = None) -> dict[str, str]:
    """The auth function's settings that send its Google and Facebook sign-ins to the simulator at `url`."""
    base = url.rstrip("/")
    return {
        "GOOGLE_CLIENT_ID": simulator.google.client_id if simulator else SANDBOX_GOOGLE_CLIENT_ID,
        "GOOGLE_DISCOVERY_URL": f"{base}/google/.well-known/openid-configuration",
        "FACEBOOK_APP_ID": simulator.facebook.client_id if simulator else SANDBOX_FACEBOOK_APP_ID,
        "FACEBOOK_AUTHORIZE_URL": f"{base}/facebook/{GRAPH_VERSION}/dialog/oauth",
        "FACEBOOK_GRAPH_URL": f"{base}/facebook/graph/{GRAPH_VERSION}",
    }


class IdpService:
    """The sandbox's hook (see sandbox/services.py): the simulator on its own port, and the settings for it."""

    name = "idp"

    def __init__(self, context: Any) -> None:
        self._host = context.host
        self._port = int(context.ports.get("idp", DEFAULT_PORT))
        self._server: IdpServer | None = None

    @property
    def url(self) -> str | None:
        return self._server.url if self._server else f"http://{self._host}:{self._port}"

    def start(self) -> None:
        self._server = IdpServer(create_app(), host=self._host, port=self._port).start()

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None

    def environment(self) -> Mapping[str, str]:
        return environment(self.url or "")

    def mounts(self) -> Mapping[str, Any]:
        return {}


def create_service(context: Any) -> IdpService:
    return IdpService(context)

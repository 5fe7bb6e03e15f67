"""Where the simulators join the sandbox (TikTok on port 3100, Google/Facebook sign-in, more later).

A simulator package under `sandbox/` joins by exposing `create_service(context) -> Service`; the
sandbox imports each module of OPTIONAL_SERVICES that exists, starts its service after the AWS
emulation and before the gateway, stops it on the way out, and shows it in the banner and in
`/_sandbox/info`. A service can:

- listen on its own port (`url`), e.g. the TikTok simulator on `context.ports["tiktok"]`;
- give every function extra environment variables (`environment()`), e.g.
  TIKTOK_API_BASE_URL pointing at itself, on top of the template's;
- mount WSGI applications on the gateway's port under a path prefix (`mounts()`), e.g. a
  simulated Google sign-in page at `/_idp/google`; the application sees the full path.
"""

import importlib
import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox.stack import LocalStack

log = logging.getLogger("sandbox.services")

# module -> what it simulates; a module that does not exist yet is simply not started.
OPTIONAL_SERVICES = {
    "sandbox.tiktok_sim": "TikTok (OAuth, Content Posting API, webhooks)",
    "sandbox.idp_sim": "Google and Facebook sign-in",
}

DEFAULT_PORTS = {"gateway": 3000, "tiktok": 3100, "idp": 3200}


@dataclass
class ServiceContext:
    """What a simulator may need to know about the running sandbox."""

    host: str
    gateway_url: str
    aws_endpoint: str
    stack: LocalStack
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))


class Service(Protocol):
    name: str

    @property
    def url(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def environment(self) -> Mapping[str, str]: ...

    def mounts(self) -> Mapping[str, Any]: ...


def discover(context: ServiceContext, modules: Mapping[str, str] = OPTIONAL_SERVICES) -> list[Service]:
    """The services of the simulator modules that exist and expose `create_service`."""
    services = []
    for module_name in modules:
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            module = importlib.import_module(module_name)
            factory = getattr(module, "create_service", None)
            if factory is None:
                log.warning("%s has no create_service(context); it is not started", module_name)
                continue
            services.append(factory(context))
        except Exception:  # a broken simulator must not keep the rest of the sandbox from starting
            log.exception("%s could not be loaded; it is not started", module_name)
    return services

"""A sandbox on random ports per test: moto, the stack of template.yaml, the gateway and the runner."""

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server import Sandbox, SandboxConfig
from tests.sandbox import functions
from tests.tiktok.conftest import video_files  # noqa: F401 (a fixture of the end-to-end tests)


def sandbox_config(**overrides: object) -> SandboxConfig:
    """Random ports, no simulators, the test-only functions and routes; fast real-clock scheduler."""
    settings: dict[str, object] = {
        "port": 0,
        "aws_port": 0,
        "load_services": False,
        "preload_handlers": False,
        "static_dir": None,
        "scheduler_interval": 0.2,
        "ttl_sweep_interval": 3600.0,
        "lifecycle_sweep_interval": 3600.0,
        "extra_functions": functions.function_specs,
        "extra_routes": functions.ROUTES,
    }
    settings.update(overrides)
    return SandboxConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(sandbox_config()) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client on the gateway (127.0.0.1: the sandbox binds no other address)."""
    base_url = sandbox.gateway_url.replace("localhost", "127.0.0.1")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client

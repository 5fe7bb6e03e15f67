"""Shared fixtures: a fake AWS environment, moto resources built from template.yaml, a Lambda context."""

import os

# Before any boto3 client exists: fake credentials, a region, and no endpoint override, so that
# moto's in-process mock intercepts every call (an AWS_ENDPOINT_URL would send them elsewhere).
for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(variable, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="eu-west-3",
    AWS_REGION="eu-west-3",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="test",
    POWERTOOLS_SERVICE_NAME="test",
)

import io  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from flowctory import wiring  # noqa: E402
from flowctory.adapters import aws as aws_clients  # noqa: E402
from flowctory.observability import logger  # noqa: E402
from sandbox.stack import LocalStack, bootstrap  # noqa: E402


@dataclass
class FakeLambdaContext:
    function_name: str = "flowctory-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:flowctory-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


# One boto3 Session for the bootstrap of every test: creating clients from a cached Session costs
# a tenth of creating them from a new one.
BOOTSTRAP_SESSION = boto3.session.Session()


@pytest.fixture
def aws() -> Iterator[LocalStack]:
    """moto with every resource of template.yaml created by the sandbox's bootstrap."""
    with mock_aws():
        aws_clients.reset()
        wiring.reset()
        yield bootstrap(BOOTSTRAP_SESSION)
    aws_clients.reset()
    wiring.reset()


@pytest.fixture
def function_env(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, str]]:
    """Gives the process the environment template.yaml gives a function (e.g. "PurgeFunction")."""

    def use(function_id: str) -> dict[str, str]:
        environment = aws.function_environment(function_id)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        return environment

    return use


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the Powertools logger writes during the test, formatted as in production (JSON lines)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)

"""What the in-process cost benchmarks share: import it first.

It puts the layer on the path and sets moto's fake credentials and quiet Powertools before anything
creates a client, and it gives a Lambda context and a counter of every AWS call (botocore's
before-call event) made from the moment it starts listening.
"""

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers" / "flowctory")]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (moto's fake credentials)
    AWS_DEFAULT_REGION="eu-west-3",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="bench",
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_METRICS_DISABLED="true",
)
os.environ.pop("AWS_ENDPOINT_URL", None)


class LambdaContext:
    """What a handler reads of Lambda's context, for a function named `bench-<name>`."""

    aws_request_id = "bench"

    def __init__(self, name: str, *, memory_mb: int, timeout_seconds: int) -> None:
        self.function_name = f"bench-{name}"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-3:123456789012:function:bench-{name}"
        self._timeout_ms = timeout_seconds * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


class AwsCalls(Counter[tuple[str, str]]):
    """(service, operation) -> how many calls, counted once `listen` is called on a fresh session."""

    def listen(self) -> "AwsCalls":
        from flowctory.adapters import aws

        aws.session().events.register("before-call.*.*", self._count)
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self[(model.service_model.service_name, model.name)] += 1

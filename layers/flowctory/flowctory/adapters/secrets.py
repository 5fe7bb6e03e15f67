"""Secrets Manager values, cached per container.

Only the secret's ARN is configuration; the value is read on first use and kept for a few minutes,
so a rotation reaches every warm container quickly without a read per request. Both the current
and the previous version are read: a key rotated in Secrets Manager keeps verifying what it signed
until the previous version goes away.
"""

import time
from collections.abc import Callable
from threading import Lock

from botocore.exceptions import ClientError

from flowctory.adapters import aws
from flowctory.errors import ConfigurationError

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


class CachedSecrets:
    """Reads secret strings by ARN and version stage, keeping each for `max_age` seconds."""

    def __init__(self, *, max_age: float = 300.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._monotonic = monotonic
        self._values: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = Lock()

    def get(self, arn: str, *, stage: str = CURRENT) -> str | None:
        """The secret's value at `stage`; None when that stage does not exist (no previous version yet).

        Raises:
            ConfigurationError: the current version is missing or empty.
        """
        key = (arn, stage)
        with self._lock:
            cached = self._values.get(key)
            if cached is not None and self._monotonic() - cached[0] < self._max_age:
                return cached[1]
        value = self._fetch(arn, stage)
        with self._lock:
            self._values[key] = (self._monotonic(), value)
        return value

    def current_and_previous(self, arn: str) -> list[str]:
        """The current value first, then the previous one if there is one."""
        values = [value for value in (self.get(arn), self.get(arn, stage=PREVIOUS)) if value]
        return list(dict.fromkeys(values))

    def _fetch(self, arn: str, stage: str) -> str | None:
        try:
            value = aws.secretsmanager().get_secret_value(SecretId=arn, VersionStage=stage).get("SecretString")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException" and stage != CURRENT:
                return None
            raise
        if stage == CURRENT and not value:
            raise ConfigurationError(f"the secret {arn} has no value; set it after the first deploy")
        return value or None

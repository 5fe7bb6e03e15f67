"""Lazily created, cached boto3 clients.

Created on first use, never at import, so a Lambda cold start pays only for what it calls and
tests or the sandbox can point them elsewhere first. botocore honours `AWS_ENDPOINT_URL` (and the
per-service `AWS_ENDPOINT_URL_<SERVICE>`), which is how the same code talks to moto locally and to
AWS in production; against such an endpoint S3 uses path-style addressing, as moto needs.
"""

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient


@lru_cache
def session() -> boto3.session.Session:
    return boto3.session.Session()


def _config(service: str) -> Config:
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
    if service == "s3":
        addressing: Literal["path", "auto"] = "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"
        config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": addressing}))
    return config


@lru_cache
def client(service: str) -> Any:
    return session().client(service, config=_config(service))  # type: ignore[call-overload]


@lru_cache
def dynamodb() -> "DynamoDBServiceResource":
    return session().resource("dynamodb", config=_config("dynamodb"))


def s3() -> "S3Client":
    return client("s3")


def kms() -> "KMSClient":
    return client("kms")


def scheduler() -> "EventBridgeSchedulerClient":
    return client("scheduler")


def secretsmanager() -> "SecretsManagerClient":
    return client("secretsmanager")


def sesv2() -> "SESV2Client":
    return client("sesv2")


def sqs() -> "SQSClient":
    return client("sqs")


def reset() -> None:
    """Forget every cached client (tests and the sandbox call this after changing the endpoint)."""
    session.cache_clear()
    client.cache_clear()
    dynamodb.cache_clear()

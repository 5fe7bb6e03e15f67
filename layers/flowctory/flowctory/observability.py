"""Powertools logger, tracer and metrics shared by every function (service name from the environment)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore is patched at start-up: patching everything would import httpx and requests in
# every function's cold start. The adapters that use an HTTP library trace their own calls.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

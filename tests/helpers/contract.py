"""Checks that template.yaml and the code agree; each returns the disagreements it finds."""

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from sandbox.template import http_routes


def resolver_routes(app: APIGatewayHttpResolver) -> set[str]:
    """Route keys ("GET /posts/{id}") that a resolver serves, in the template's path syntax."""
    paths = app.get_openapi_schema().paths or {}
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    return {
        f"{method.upper()} {path}" for path, item in paths.items() for method in methods if getattr(item, method, None)
    }


def route_mismatches(template: Mapping[str, Any], function_id: str, app: APIGatewayHttpResolver) -> dict[str, set[str]]:
    """Routes the template sends to `function_id` that its resolver lacks, and the reverse."""
    declared = {route.route_key for route in http_routes(template) if route.function_id == function_id}
    served = resolver_routes(app)
    return {"missing_in_code": declared - served, "missing_in_template": served - declared}

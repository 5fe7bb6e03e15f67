"""The merged OpenAPI document of every API function, and a Swagger UI page served from local files.

Each function has its own Powertools resolver, so its own OpenAPI document; the sandbox merges
them into one (paths, components and tags). A path/method or component name defined twice with
different content is kept from the first function and reported in the log.

Swagger UI's assets ship inside aws-lambda-powertools; they are served from the package, never
from a CDN, and the page turns off Swagger UI's online validator (which would call a third party).
"""

import json
import logging
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any, Protocol

log = logging.getLogger("sandbox.docs")

SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "text/javascript",
    "swagger-ui.min.css": "text/css",
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class OpenApiSource(Protocol):
    def get_openapi_json_schema(self) -> str: ...


def merge_openapi(
    sources: Iterable[tuple[str, OpenApiSource]],
    *,
    title: str,
    version: str,
    server_url: str,
    route_owner: Callable[[str, str], str | None] | None = None,
) -> dict[str, Any]:
    """One OpenAPI 3.1 document from the documents of several resolvers, named by function.

    Each operation gets `x-function`: the function the gateway routes it to (`route_owner`), or
    else the function whose resolver declares it.
    """
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url}],
        "paths": {},
    }
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, Any] = {}
    for function_id, source in sources:
        document = json.loads(source.get_openapi_json_schema())
        for path, item in document.get("paths", {}).items():
            target = merged["paths"].setdefault(path, {})
            for key, operation in item.items():
                if key in HTTP_METHODS:
                    owner = route_owner(key.upper(), path) if route_owner else None
                    operation = {**operation, "x-function": owner or function_id}
                if key in target:
                    if target[key] != operation:
                        log.warning(
                            "%s %s is declared twice; %s's declaration is left out", key.upper(), path, function_id
                        )
                    continue
                target[key] = operation
        for section, entries in document.get("components", {}).items():
            target = components.setdefault(section, {})
            for name, entry in entries.items():
                if name in target and target[name] != entry:
                    log.warning(
                        "component %s/%s differs between functions; %s's is left out", section, name, function_id
                    )
                    continue
                target.setdefault(name, entry)
        for tag in document.get("tags", []):
            tags.setdefault(tag["name"], tag)
    if components:
        merged["components"] = components
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def swagger_asset(name: str) -> bytes:
    """One of Swagger UI's files, from the copy bundled in aws-lambda-powertools."""
    if name not in SWAGGER_ASSETS:
        raise KeyError(name)
    package = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    return package.joinpath(name).read_bytes()


def swagger_page(spec_url: str, assets_url: str, title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{assets_url}/swagger-ui.min.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets_url}/swagger-ui-bundle.min.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{spec_url}",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      withCredentials: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""

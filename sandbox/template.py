"""Reads template.yaml and resolves its intrinsic functions for the local stack.

Both the sandbox and the tests derive every name, property and environment variable from here,
so the local stack cannot drift from what production deploys.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads the short forms (`!Ref`, `!GetAtt`, `!Sub`...) as their long forms."""


def _construct_intrinsic(loader: CloudFormationLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


@lru_cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


@dataclass
class Resolver:
    """Resolves Ref, GetAtt and Sub against parameters, pseudo parameters and known physical ids."""

    parameters: dict[str, str]
    pseudo: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            resource, attribute = value["Fn::GetAtt"]
            return self.get_att(resource, attribute)
        if set(value) == {"Fn::Sub"}:
            return self.sub(value["Fn::Sub"])
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str) -> str:
        for source in (self.pseudo, self.parameters, self.refs):
            if name in source:
                return source[name]
        raise KeyError(f"template.yaml refers to {name!r}, which the local stack does not know")

    def get_att(self, resource: str, attribute: str) -> str:
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise KeyError(
                f"template.yaml asks for {resource}.{attribute}, which the local stack does not know"
            ) from None

    def sub(self, spec: str | list[Any]) -> str:
        text, variables = (spec, {}) if isinstance(spec, str) else (spec[0], self.resolve(spec[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


@dataclass(frozen=True)
class HttpRoute:
    """One `HttpApi` event of a function: what API Gateway routes to it."""

    method: str
    path: str
    function_id: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def http_routes(template: Mapping[str, Any]) -> list[HttpRoute]:
    routes = []
    for function_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                spec = event["Properties"]
                routes.append(HttpRoute(method=spec["Method"].upper(), path=spec["Path"], function_id=function_id))
    return routes


def function_module(template: Mapping[str, Any], function_id: str) -> str:
    """The dotted module of a function's handler file, e.g. "functions.upload.app"."""
    function = template["Resources"][function_id]["Properties"]
    handler = function.get("Handler") or template["Globals"]["Function"]["Handler"]
    module = handler.rsplit(".", 1)[0]
    return ".".join([*Path(function["CodeUri"]).parts, module])


def function_handler_name(template: Mapping[str, Any], function_id: str) -> str:
    function = template["Resources"][function_id]["Properties"]
    handler = function.get("Handler") or template["Globals"]["Function"]["Handler"]
    return str(handler.rsplit(".", 1)[1])

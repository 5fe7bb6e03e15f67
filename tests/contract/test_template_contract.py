"""template.yaml and the code must agree: handlers, routes, settings, logs, dead letters, local stack."""

import copy
import importlib
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from flowctory import settings
from flowctory.http import create_app
from sandbox.stack import NOT_EMULATED, emulated_types
from sandbox.template import function_handler_name, function_module, http_routes, load_template, resources_of_type
from tests.helpers.contract import route_mismatches

TEMPLATE = load_template()
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
FUNCTION_SETTINGS: dict[str, type[BaseModel]] = {
    "AuthFunction": settings.AuthSettings,
    "TikTokOAuthFunction": settings.TikTokOAuthSettings,
    "ScheduleFunction": settings.ScheduleSettings,
    "UploadFunction": settings.UploadSettings,
    "WebhooksFunction": settings.WebhooksSettings,
    "BillingFunction": settings.BillingSettings,
    "PurgeFunction": settings.PurgeSettings,
}


def environment_of(function_id: str) -> dict[str, Any]:
    globals_env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return {**globals_env, **FUNCTIONS[function_id]["Properties"].get("Environment", {}).get("Variables", {})}


def is_http_function(function_id: str) -> bool:
    """HTTP functions answer API Gateway synchronously; the others are invoked asynchronously."""
    module = importlib.import_module(function_module(TEMPLATE, function_id))
    return isinstance(getattr(module, "app", None), APIGatewayHttpResolver)


def test_every_function_has_its_settings_model():
    assert set(FUNCTIONS) == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_handler_imports_and_is_callable(function_id):
    module = importlib.import_module(function_module(TEMPLATE, function_id))
    assert callable(getattr(module, function_handler_name(TEMPLATE, function_id)))


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_routes_in_template_are_exactly_those_the_resolver_serves(function_id):
    module = importlib.import_module(function_module(TEMPLATE, function_id))
    if not hasattr(module, "app"):
        assert not [route for route in http_routes(TEMPLATE) if route.function_id == function_id]
        return
    assert route_mismatches(TEMPLATE, function_id, module.app) == {
        "missing_in_code": set(),
        "missing_in_template": set(),
    }


def test_contract_checker_catches_a_route_missing_from_the_template():
    # Given a resolver serving one route more than the template declares
    app = create_app()

    @app.get("/undeclared/<item_id>")
    def get_undeclared(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    # When compared with the template
    mismatches = route_mismatches(TEMPLATE, "ScheduleFunction", app)

    # Then the extra route is reported, in the template's path syntax
    assert mismatches["missing_in_template"] == {"GET /undeclared/{item_id}"}


def test_contract_checker_catches_a_route_missing_from_the_code():
    # Given a template that sends a route to a function whose resolver does not serve it
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["ScheduleFunction"]["Properties"]["Events"] = {
        "ListPosts": {"Type": "HttpApi", "Properties": {"Path": "/posts", "Method": "GET", "ApiId": {"Ref": "HttpApi"}}}
    }

    # Then the checker reports it
    assert route_mismatches(template, "ScheduleFunction", create_app())["missing_in_code"] == {"GET /posts"}


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_template_provides_every_required_setting(function_id):
    model = FUNCTION_SETTINGS[function_id]
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required - set(environment_of(function_id)) == set()


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_template_sets_no_variable_the_code_does_not_read(function_id):
    model = FUNCTION_SETTINGS[function_id]
    # Powertools and the C library (MALLOC_*) read their own variables; every other one is a setting.
    stray = {name for name in environment_of(function_id) if not name.startswith(("POWERTOOLS_", "MALLOC_"))}
    assert stray - set(model.model_fields) == set()


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_service_name_is_the_folder_name(function_id):
    code_uri = FUNCTIONS[function_id]["Properties"]["CodeUri"]
    assert environment_of(function_id)["POWERTOOLS_SERVICE_NAME"] == code_uri.rstrip("/").split("/")[-1]


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_p21_every_function_logs_to_a_group_kept_30_days(function_id):
    log_group_ref = FUNCTIONS[function_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = TEMPLATE["Resources"][log_group_ref]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_p21_every_log_group_keeps_30_days():
    groups = resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    assert groups
    assert {name: group["Properties"].get("RetentionInDays") for name, group in groups.items()} == dict.fromkeys(
        groups, 30
    )


@pytest.mark.parametrize("function_id", sorted(f for f in FUNCTIONS if not is_http_function(f)))
def test_asynchronous_functions_dead_letter_their_failures(function_id):
    properties = FUNCTIONS[function_id]["Properties"]
    invoke_config = properties["EventInvokeConfig"]
    assert {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} <= set(invoke_config)
    assert invoke_config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    for event in properties.get("Events", {}).values():
        if event["Type"] in {"ScheduleV2", "Schedule", "EventBridgeRule"}:
            assert "Arn" in event["Properties"]["DeadLetterConfig"]
            assert {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} <= set(event["Properties"]["RetryPolicy"])


def test_layer_is_built_for_the_functions_architecture_and_runtime():
    layer = TEMPLATE["Resources"]["SharedLayer"]
    function_globals = TEMPLATE["Globals"]["Function"]
    assert layer["Metadata"]["BuildArchitecture"] in function_globals["Architectures"]
    assert layer["Metadata"]["BuildMethod"] == function_globals["Runtime"]
    assert function_globals["Runtime"] in layer["Properties"]["CompatibleRuntimes"]


def test_every_resource_type_is_emulated_locally_or_says_why_not():
    template_types = {resource["Type"] for resource in TEMPLATE["Resources"].values()}
    assert template_types - emulated_types() - set(NOT_EMULATED) == set()

"""Access limited to need (promise P32), second half: least privilege per function. Each function may act
only on the resources its own configuration names (a permission without the setting that uses it is a
permission it does not need), never with a wildcard action, and on "*" only for an action IAM cannot
narrow to a resource of ours."""

from typing import Any

import pytest

from sandbox.template import load_template

TEMPLATE = load_template()
FUNCTIONS = {name: r for name, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
GLOBAL_ENVIRONMENT = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
# The setting a function must have to be granted each SAM policy template, or each service's actions.
TEMPLATE_NEEDS = {
    "DynamoDBCrudPolicy": "TABLE_NAME",
    "DynamoDBReadPolicy": "TABLE_NAME",
    "S3CrudPolicy": "MEDIA_BUCKET",
    "S3ReadPolicy": "MEDIA_BUCKET",
    "KMSEncryptPolicy": "KMS_KEY_ID",
    "KMSDecryptPolicy": "KMS_KEY_ID",
    "SESCrudPolicy": "MAIL_FROM",
    "SQSSendMessagePolicy": "DEAD_LETTER_QUEUE_ARN",
}
ACTION_NEEDS = {
    "dynamodb": "TABLE_NAME",
    "s3": "MEDIA_BUCKET",
    "kms": "KMS_KEY_ID",
    "scheduler": "SCHEDULE_GROUP",
    "iam": "SCHEDULER_ROLE_ARN",
    "sqs": "DEAD_LETTER_QUEUE_ARN",
    "ses": "MAIL_FROM",
}
# Actions that cannot be limited to a resource of ours (IAM evaluates them account-wide).
UNSCOPED_ACTIONS = {"scheduler:ListSchedules"}


def _environment(function: dict[str, Any]) -> dict[str, Any]:
    own = (function["Properties"].get("Environment") or {}).get("Variables", {})
    return {**GLOBAL_ENVIRONMENT, **own}


def _problems(function: dict[str, Any]) -> list[str]:
    environment = _environment(function)
    problems = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, str):
            problems.append(f"managed policy {policy}")
            continue
        (name, body), *rest = policy.items()
        if rest:
            problems.append(f"policy with several keys: {sorted(policy)}")
        if name == "AWSSecretsManagerGetSecretValuePolicy":
            if body["SecretArn"] not in environment.values():
                problems.append(f"reads secret {body['SecretArn']} that no setting names")
        elif name == "LambdaInvokePolicy":
            target = body["FunctionName"]
            target_name = target.get("Fn::Sub", "") if isinstance(target, dict) else str(target)
            named = [str(value) for key, value in environment.items() if key.endswith("_FUNCTION_ARN")]
            if not any(target_name and target_name in str(value) for value in named):
                problems.append(f"may invoke {target} that no setting names")
        elif name == "Statement":
            problems += _statement_problems(body, environment)
        elif name in TEMPLATE_NEEDS:
            if TEMPLATE_NEEDS[name] not in environment:
                problems.append(f"{name} without {TEMPLATE_NEEDS[name]}")
        else:
            problems.append(f"unreviewed policy template {name}")
    return problems


def _statement_problems(statements: list[dict[str, Any]], environment: dict[str, Any]) -> list[str]:
    problems = []
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            service, _, verb = action.partition(":")
            if "*" in verb or action == "*":
                problems.append(f"wildcard action {action}")
            if ACTION_NEEDS.get(service) not in environment:
                problems.append(f"{action} without {ACTION_NEEDS.get(service, 'a setting for ' + service)}")
        if "*" in resources and not set(actions) <= UNSCOPED_ACTIONS:
            problems.append(f"{sorted(set(actions) - UNSCOPED_ACTIONS)} on every resource")
    return problems


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_p32_each_function_may_act_only_on_what_its_own_configuration_names(function_id):
    assert _problems(FUNCTIONS[function_id]) == []


def test_p32_the_least_privilege_check_catches_a_broad_or_unneeded_permission():
    # Given a function with a wildcard, a statement on every resource, and a secret it has no setting for
    function = {
        "Properties": {
            "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "x"}},
            "Policies": [
                {"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]},
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "StripeSecret"}}},
                {"SESCrudPolicy": {"IdentityName": {"Ref": "MailDomain"}}},
            ],
        }
    }

    # Then each is reported
    assert _problems(function) == [
        "wildcard action s3:*",
        "s3:* without MEDIA_BUCKET",
        "['s3:*'] on every resource",
        "reads secret {'Ref': 'StripeSecret'} that no setting names",
        "SESCrudPolicy without MAIL_FROM",
    ]

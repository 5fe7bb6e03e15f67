"""Creates the stack of template.yaml on moto: one bootstrap for the sandbox and the tests.

Each resource is created from its own properties in the template (keys, indexes, TTL, lifecycle,
CORS, retention...), so a change to the template changes the local stack with it. Resource types
that moto cannot run or that have no local meaning are listed in NOT_EMULATED with the reason; a
contract test fails when the template gains a type that is in neither list.
"""

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from sandbox.template import Resolver, load_template

ACCOUNT_ID = "123456789012"
REGION = "eu-west-3"
STACK_NAME = "flowctory-local"

# The sandbox is plain http on localhost; the web console and the gateway share port 3000.
LOCAL_PARAMETERS = {"Stage": "dev", "WebOrigin": "http://localhost:3000"}

# Values the sandbox puts in the secrets the template declares (production sets real ones).
LOCAL_SECRET_VALUES = {
    "TikTokClientSecret": "sandbox-tiktok-client-secret",
    "StripeSecret": json.dumps({"api_key": "", "webhook_secret": ""}),
    "GoogleClientSecret": "sandbox-google-client-secret",
    "FacebookAppSecret": "sandbox-facebook-app-secret",
}

NOT_EMULATED = {
    "AWS::Serverless::HttpApi": "the local gateway serves the functions' HttpApi events itself",
    "AWS::Serverless::LayerVersion": "handlers run in-process with the package on the path",
    "AWS::S3::BucketPolicy": "the TLS-only policy cannot hold on plain-http localhost",
    "AWS::IAM::Role": "moto does not enforce IAM; only the role's ARN is used",
    "AWS::SNS::Topic": "alarms have nowhere to go locally",
    "AWS::CloudWatch::Alarm": "alarms have nowhere to go locally",
}


@dataclass
class LocalStack:
    """What the bootstrap created: the resolver knows every physical name and ARN."""

    resolver: Resolver
    template: dict[str, Any]

    def ref(self, logical_id: str) -> str:
        return self.resolver.ref(logical_id)

    def function_environment(self, function_id: str) -> dict[str, str]:
        """The environment Lambda would give `function_id`: Globals merged with its own variables."""
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own_env = self.template["Resources"][function_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {name: str(self.resolver.resolve(value)) for name, value in {**globals_env, **own_env}.items()}

    def function_arn(self, function_id: str) -> str:
        return self.resolver.get_att(function_id, "Arn")


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def new_resolver(template: dict[str, Any], parameters: Mapping[str, str]) -> Resolver:
    defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    pseudo = {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::StackName": STACK_NAME,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    return Resolver(parameters={**defaults, **LOCAL_PARAMETERS, **parameters}, pseudo=pseudo)


def bootstrap(session: boto3.session.Session, *, parameters: Mapping[str, str] | None = None) -> LocalStack:
    """Create every emulated resource of template.yaml on the endpoint `session` points at."""
    template = load_template()
    resolver = new_resolver(template, parameters or {})
    resources = template["Resources"]
    _name_resources(resolver, resources)
    clients = _Clients(session)
    order = [
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::SES::EmailIdentity",
        "AWS::Logs::LogGroup",
        "AWS::Serverless::Function",
    ]
    for resource_type in order:
        for logical_id, resource in resources.items():
            if resource["Type"] == resource_type:
                CREATORS[resource_type](clients, resolver, logical_id, resource.get("Properties", {}))
    return LocalStack(resolver=resolver, template=template)


def emulated_types() -> set[str]:
    return set(CREATORS)


def _name_resources(resolver: Resolver, resources: dict[str, Any]) -> None:
    """Give every resource whose name does not depend on moto its physical name and ARN up front."""
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        match resource["Type"]:
            case "AWS::DynamoDB::Table":
                name = f"{STACK_NAME}-{logical_id}"
                resolver.refs[logical_id] = name
                resolver.attributes[(logical_id, "Arn")] = _arn("dynamodb", f"table/{name}")
            case "AWS::S3::Bucket":
                name = f"{STACK_NAME}-{logical_id}".lower()
                resolver.refs[logical_id] = name
                resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
            case "AWS::SQS::Queue":
                name = f"{STACK_NAME}-{logical_id}"
                resolver.refs[logical_id] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
                resolver.attributes[(logical_id, "Arn")] = _arn("sqs", name)
                resolver.attributes[(logical_id, "QueueName")] = name
            case "AWS::IAM::Role":
                name = f"{STACK_NAME}-{logical_id}"
                resolver.refs[logical_id] = name
                resolver.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
            case "AWS::Serverless::Function":
                name = resolver.resolve(properties.get("FunctionName", f"{STACK_NAME}-{logical_id}"))
                resolver.refs[logical_id] = name
                resolver.attributes[(logical_id, "Arn")] = _arn("lambda", f"function:{name}")
            case "AWS::Serverless::HttpApi":
                resolver.refs[logical_id] = "local"
            case "AWS::Serverless::LayerVersion":
                resolver.refs[logical_id] = _arn("lambda", f"layer:{logical_id}:1")
            case "AWS::SNS::Topic":
                resolver.refs[logical_id] = _arn("sns", f"{STACK_NAME}-{logical_id}")
            case "AWS::Scheduler::ScheduleGroup":
                resolver.refs[logical_id] = resolver.resolve(properties["Name"])
            case "AWS::Logs::LogGroup":
                name = resolver.resolve(properties["LogGroupName"])
                resolver.refs[logical_id] = name
                resolver.attributes[(logical_id, "Arn")] = _arn("logs", f"log-group:{name}:*")


class _Clients:
    def __init__(self, session: boto3.session.Session) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]


def _create_key(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    key = clients.kms.create_key(Description=properties.get("Description", logical_id))["KeyMetadata"]
    if properties.get("EnableKeyRotation"):
        clients.kms.enable_key_rotation(KeyId=key["KeyId"])
    resolver.refs[logical_id] = key["KeyId"]
    resolver.attributes[(logical_id, "Arn")] = key["Arn"]


def _create_alias(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    alias = resolver.resolve(properties["AliasName"])
    clients.kms.create_alias(AliasName=alias, TargetKeyId=resolver.resolve(properties["TargetKeyId"]))
    resolver.refs[logical_id] = alias


def _create_queue(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    attributes = {"MessageRetentionPeriod": str(properties.get("MessageRetentionPeriod", 345600))}
    url = clients.sqs.create_queue(QueueName=resolver.get_att(logical_id, "QueueName"), Attributes=attributes)
    resolver.refs[logical_id] = url["QueueUrl"]


def _create_table(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    table = resolver.ref(logical_id)
    arguments: dict[str, Any] = {
        "TableName": table,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if "GlobalSecondaryIndexes" in properties:
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    sse = properties.get("SSESpecification")
    if sse:
        arguments["SSESpecification"] = {
            "Enabled": sse["SSEEnabled"],
            "SSEType": sse["SSEType"],
            "KMSMasterKeyId": resolver.resolve(sse["KMSMasterKeyId"]),
        }
    clients.dynamodb.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        clients.dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]}
        )
    pitr = properties.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        clients.dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def lifecycle_rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's LifecycleConfiguration in the S3 API's shape."""
    rules = []
    for rule in properties.get("LifecycleConfiguration", {}).get("Rules", []):
        api_rule: dict[str, Any] = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "AbortIncompleteMultipartUpload" in rule:
            api_rule["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api_rule)
    return rules


CORS_FIELDS = ("AllowedOrigins", "AllowedMethods", "AllowedHeaders")


def cors_rules(resolver: Resolver, properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's CorsConfiguration in the S3 API's shape."""
    rules = []
    for rule in properties.get("CorsConfiguration", {}).get("CorsRules", []):
        api_rule = {name: resolver.resolve(rule[name]) for name in CORS_FIELDS if name in rule}
        if "ExposedHeaders" in rule:
            api_rule["ExposeHeaders"] = rule["ExposedHeaders"]
        if "MaxAge" in rule:
            api_rule["MaxAgeSeconds"] = rule["MaxAge"]
        rules.append(api_rule)
    return rules


def _create_bucket(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    bucket = resolver.ref(logical_id)
    clients.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if "PublicAccessBlockConfiguration" in properties:
        clients.s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    encryption = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": resolver.resolve(rule["ServerSideEncryptionByDefault"]),
                "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
            }
            for rule in encryption
        ]
        clients.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
    rules = lifecycle_rules(properties)
    if rules:
        clients.s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    cors = cors_rules(resolver, properties)
    if cors:
        clients.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors})


def _create_secret(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    generated = properties.get("GenerateSecretString")
    value = secrets.token_urlsafe(48) if generated else LOCAL_SECRET_VALUES.get(logical_id, "")
    name = f"{STACK_NAME}/{logical_id}"
    arn = clients.secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
    resolver.refs[logical_id] = arn


def _create_schedule_group(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    clients.scheduler.create_schedule_group(Name=resolver.ref(logical_id))


def _create_email_identity(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    identity = resolver.resolve(properties["EmailIdentity"])
    clients.ses.verify_domain_identity(Domain=identity)
    resolver.refs[logical_id] = identity


def _create_log_group(clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]) -> None:
    name = resolver.ref(logical_id)
    clients.logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in properties:
        clients.logs.put_retention_policy(logGroupName=name, retentionInDays=properties["RetentionInDays"])


def _create_function_schedules(
    clients: _Clients, resolver: Resolver, logical_id: str, properties: dict[str, Any]
) -> None:
    """The `ScheduleV2` events of a function (e.g. the purge sweep) become schedules in moto."""
    for event_id, event in properties.get("Events", {}).items():
        if event["Type"] != "ScheduleV2":
            continue
        spec = event["Properties"]
        target: dict[str, Any] = {
            "Arn": resolver.get_att(logical_id, "Arn"),
            "RoleArn": _arn("iam", f"role/{STACK_NAME}-{logical_id}{event_id}Role", region=""),
            "Input": spec.get("Input", "{}"),
        }
        if "RetryPolicy" in spec:
            target["RetryPolicy"] = spec["RetryPolicy"]
        if "DeadLetterConfig" in spec:
            target["DeadLetterConfig"] = {"Arn": resolver.resolve(spec["DeadLetterConfig"]["Arn"])}
        clients.scheduler.create_schedule(
            Name=resolver.resolve(spec.get("Name", f"{logical_id}{event_id}")),
            ScheduleExpression=spec["ScheduleExpression"],
            FlexibleTimeWindow=spec.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            State=spec.get("State", "ENABLED"),
            Target=target,
        )


CREATORS = {
    "AWS::KMS::Key": _create_key,
    "AWS::KMS::Alias": _create_alias,
    "AWS::SQS::Queue": _create_queue,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::Scheduler::ScheduleGroup": _create_schedule_group,
    "AWS::SES::EmailIdentity": _create_email_identity,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::Serverless::Function": _create_function_schedules,
}

"""The bootstrap creates on moto exactly what template.yaml declares (so the sandbox cannot drift)."""

import boto3

from sandbox.stack import cors_rules, lifecycle_rules
from sandbox.template import load_template, resources_of_type

TEMPLATE = load_template()


def test_table_has_the_template_keys_indexes_and_ttl(aws):
    # Given the template's table
    (logical_id, table) = next(iter(resources_of_type(TEMPLATE, "AWS::DynamoDB::Table").items()))
    declared = table["Properties"]
    dynamodb = boto3.client("dynamodb")

    # When the created table is described
    described = dynamodb.describe_table(TableName=aws.ref(logical_id))["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=aws.ref(logical_id))["TimeToLiveDescription"]

    # Then keys, attributes, indexes, billing, TTL and encryption match
    assert described["KeySchema"] == declared["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
    assert {
        index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in described["GlobalSecondaryIndexes"]
    } == {index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in declared["GlobalSecondaryIndexes"]}
    assert described["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": declared["TimeToLiveSpecification"]["AttributeName"]}
    assert described["SSEDescription"]["SSEType"] == "KMS"


def test_p07_bucket_has_the_template_lifecycle_and_cors(aws):
    (logical_id, bucket) = next(iter(resources_of_type(TEMPLATE, "AWS::S3::Bucket").items()))
    s3 = boto3.client("s3")
    name = aws.ref(logical_id)

    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    cors = s3.get_bucket_cors(Bucket=name)["CORSRules"]

    assert lifecycle == lifecycle_rules(bucket["Properties"])
    assert {(rule["ID"], rule["Expiration"]["Days"]) for rule in lifecycle} == {("ExpireVideos", 1)}
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert cors == cors_rules(aws.resolver, bucket["Properties"])
    assert cors[0]["AllowedOrigins"] == ["http://localhost:3000"]


def test_p16_bucket_and_table_are_encrypted_with_the_project_key(aws):
    s3 = boto3.client("s3")
    encryption = s3.get_bucket_encryption(Bucket=aws.ref("MediaBucket"))["ServerSideEncryptionConfiguration"]
    default = encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": aws.ref("AppKey")}
    key = boto3.client("kms").describe_key(KeyId=aws.ref("AppKey"))["KeyMetadata"]
    assert key["Enabled"]
    assert boto3.client("kms").get_key_rotation_status(KeyId=aws.ref("AppKey"))["KeyRotationEnabled"]


def test_p21_log_groups_exist_with_the_template_retention(aws):
    declared = {
        aws.ref(logical_id): group["Properties"]["RetentionInDays"]
        for logical_id, group in resources_of_type(TEMPLATE, "AWS::Logs::LogGroup").items()
    }
    described = boto3.client("logs").describe_log_groups()["logGroups"]
    assert {group["logGroupName"]: group.get("retentionInDays") for group in described} == declared


def test_schedule_group_queue_secrets_and_purge_schedule_exist(aws):
    scheduler = boto3.client("scheduler")
    assert scheduler.get_schedule_group(Name=aws.ref("PostScheduleGroup"))["State"] == "ACTIVE"
    purge = scheduler.get_schedule(Name="flowctory-local-purge-sweep")
    assert purge["ScheduleExpression"] == "rate(15 minutes)"
    assert purge["Target"]["Arn"] == aws.function_arn("PurgeFunction")
    assert purge["Target"]["DeadLetterConfig"]["Arn"] == aws.resolver.get_att("PublishDeadLetterQueue", "Arn")
    assert boto3.client("sqs").get_queue_url(QueueName=aws.resolver.get_att("PublishDeadLetterQueue", "QueueName"))
    for secret in resources_of_type(TEMPLATE, "AWS::SecretsManager::Secret"):
        assert boto3.client("secretsmanager").describe_secret(SecretId=aws.ref(secret))["ARN"] == aws.ref(secret)


def test_function_environment_resolves_to_local_names(aws):
    environment = aws.function_environment("ScheduleFunction")
    assert environment["TABLE_NAME"] == aws.ref("AppTable")
    assert environment["MEDIA_BUCKET"] == aws.ref("MediaBucket")
    assert environment["KMS_KEY_ID"] == aws.ref("AppKey")
    assert environment["UPLOAD_FUNCTION_ARN"] == aws.function_arn("UploadFunction")
    assert environment["POWERTOOLS_SERVICE_NAME"] == "schedule"
    assert not any("${" in value or value.startswith("{") for value in environment.values())

"""What AWS does in the background and moto never does: DynamoDB TTL expiry and S3 lifecycle rules.

Both read their rules from moto (so from template.yaml, through the bootstrap), and both take
`now` as an argument so tests can run them with a fake clock.

- TTL: for each table whose TTL is ENABLED, items whose TTL attribute is a number of epoch
  seconds in the past are deleted (on condition that the TTL did not change meanwhile, so a renewed item survives).
  Like DynamoDB, values more than five years in the past and non-numbers are ignored. DynamoDB
  deletes within a few days; the sandbox within one sweep period.
- Lifecycle: for each enabled rule with a prefix filter, objects are expired when `Days` after
  their last modification, rounded up to the next midnight UTC, have passed (S3's rule), or once
  `Date` has passed. Incomplete multipart uploads are aborted `DaysAfterInitiation` days after
  the sweeper first saw them, because moto reports the same bogus Initiated date for every
  upload: an abort may come one sweep period late. Rules filtered by tags or object size are
  reported once in the log and skipped. Versioned buckets are not handled (the template has none).
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("sandbox.sweepers")

TTL_IGNORED_AFTER = timedelta(days=5 * 365)


class TtlSweeper:
    """Deletes expired items from every table whose TTL is enabled."""

    def __init__(self, dynamodb_client: Any) -> None:
        self._dynamodb = dynamodb_client

    def sweep(self, now: datetime) -> int:
        """Delete the items expired at `now`; returns how many were deleted."""
        deleted = 0
        for table in (
            name for page in self._dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]
        ):
            ttl = self._dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") != "ENABLED":
                continue
            deleted += self._sweep_table(table, ttl["AttributeName"], now)
        return deleted

    def _sweep_table(self, table: str, attribute: str, now: datetime) -> int:
        keys = [key["AttributeName"] for key in self._dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        names = {"#ttl": attribute, **{f"#k{index}": key for index, key in enumerate(keys)}}
        # Compared here rather than in a FilterExpression: moto fails on `<` between a string and a number.
        pages = self._dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="attribute_exists(#ttl)",
            ProjectionExpression=", ".join(["#ttl", *(f"#k{index}" for index in range(len(keys)))]),
            ExpressionAttributeNames=names,
        )
        newest, oldest = now.timestamp(), (now - TTL_IGNORED_AFTER).timestamp()
        deleted = 0
        for item in (item for page in pages for item in page["Items"]):
            expires = item[attribute].get("N")
            if expires is None or not oldest <= float(expires) < newest:
                continue
            try:
                self._dynamodb.delete_item(
                    TableName=table,
                    Key={key: item[key] for key in keys},
                    ConditionExpression="#ttl = :seen",
                    ExpressionAttributeNames={"#ttl": attribute},
                    ExpressionAttributeValues={":seen": item[attribute]},
                )
                deleted += 1
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        if deleted:
            log.info("TTL: deleted %d expired item(s) from %s", deleted, table)
        return deleted


class LifecycleSweeper:
    """Applies the buckets' lifecycle rules: expiration and abort of incomplete multipart uploads."""

    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client
        self._uploads_first_seen: dict[str, datetime] = {}
        self._warned: set[str] = set()

    def sweep(self, now: datetime) -> dict[str, int]:
        """Apply every bucket's rules at `now`; returns how many objects expired and uploads were aborted."""
        totals = {"expired": 0, "aborted": 0}
        seen_uploads: set[str] = set()
        for bucket in (bucket["Name"] for bucket in self._s3.list_buckets().get("Buckets", [])):
            for rule in self._rules(bucket):
                prefix = _rule_prefix(rule)
                if prefix is None:
                    self._warn_once(f"{bucket}/{rule.get('ID')}", "its filter uses tags or sizes")
                    continue
                totals["expired"] += self._expire(bucket, prefix, rule.get("Expiration", {}), now)
                abort = rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
                if abort is not None:
                    totals["aborted"] += self._abort(bucket, prefix, int(abort), now, seen_uploads)
        for upload_id in set(self._uploads_first_seen) - seen_uploads:
            del self._uploads_first_seen[upload_id]
        return totals

    def _rules(self, bucket: str) -> list[dict[str, Any]]:
        try:
            rules = self._s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                return []
            raise
        return [rule for rule in rules if rule.get("Status") == "Enabled"]

    def _expire(self, bucket: str, prefix: str, expiration: dict[str, Any], now: datetime) -> int:
        days, date = expiration.get("Days"), expiration.get("Date")
        if days is None and date is None:
            return 0
        if date is not None and now < _aware(date):
            return 0
        age = timedelta(days=int(days or 0))
        expired = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if date is not None or now >= _next_midnight(_aware(item["LastModified"]) + age):
                    expired.append({"Key": item["Key"]})
        for start in range(0, len(expired), 1000):
            self._s3.delete_objects(Bucket=bucket, Delete={"Objects": expired[start : start + 1000], "Quiet": True})
        if expired:
            log.info("lifecycle: expired %d object(s) under s3://%s/%s", len(expired), bucket, prefix)
        return len(expired)

    def _abort(self, bucket: str, prefix: str, days: int, now: datetime, seen: set[str]) -> int:
        aborted = 0
        for page in self._s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                upload_id = upload["UploadId"]
                seen.add(upload_id)
                first_seen = self._uploads_first_seen.setdefault(upload_id, now)
                if now >= _next_midnight(first_seen + timedelta(days=days)):
                    self._s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload_id)
                    del self._uploads_first_seen[upload_id]
                    seen.discard(upload_id)
                    aborted += 1
        if aborted:
            log.info("lifecycle: aborted %d incomplete multipart upload(s) in s3://%s/%s", aborted, bucket, prefix)
        return aborted

    def _warn_once(self, rule: str, reason: str) -> None:
        if rule not in self._warned:
            self._warned.add(rule)
            log.warning("lifecycle rule %s is not applied by the sandbox: %s", rule, reason)


def _rule_prefix(rule: dict[str, Any]) -> str | None:
    """The rule's key prefix, or None when its filter needs more than a prefix."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", ""))
    filter_ = rule["Filter"]
    if "Prefix" in filter_:
        return str(filter_["Prefix"])
    if not filter_:
        return ""
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _next_midnight(moment: datetime) -> datetime:
    """S3 rounds an expiry up to the next midnight UTC."""
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)

"""The sweepers do what moto never does: expire DynamoDB items past their TTL and apply S3 lifecycle rules."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.server import Sandbox
from sandbox.sweepers import LifecycleSweeper, TtlSweeper
from tests.sandbox.conftest import sandbox_config

pytestmark = pytest.mark.e2e


def item(pk: str, **attributes: dict) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "meta"}, **attributes}


def remaining_keys(sandbox) -> set[str]:
    scan = sandbox.client("dynamodb").scan(TableName=sandbox.stack.ref("AppTable"))
    return {entry["pk"]["S"] for entry in scan["Items"]}


def next_midnight_after(moment: datetime) -> datetime:
    return (moment + timedelta(days=1)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_ttl_sweep_deletes_exactly_the_items_whose_ttl_has_passed(sandbox):
    # Given items with a TTL in the past, in the future, none, a non-number, and one over five years old
    now = datetime.now(UTC)
    dynamodb = sandbox.client("dynamodb")
    table = sandbox.stack.ref("AppTable")
    for entry in (
        item("expired", expires_at={"N": str(int(now.timestamp()) - 10)}),
        item("later", expires_at={"N": str(int(now.timestamp()) + 3600)}),
        item("forever"),
        item("text-ttl", expires_at={"S": "0"}),
        item("ancient", expires_at={"N": str(int((now - timedelta(days=6 * 365)).timestamp()))}),
    ):
        dynamodb.put_item(TableName=table, Item=entry)
    sweeper = TtlSweeper(dynamodb)

    # When the sweeper runs now, then two hours later
    deleted_now = sweeper.sweep(now)
    after_now = remaining_keys(sandbox)
    deleted_later = sweeper.sweep(now + timedelta(hours=2))

    # Then the past item goes first, the future one when its time has come, and DynamoDB's exceptions stay
    assert (deleted_now, deleted_later) == (1, 1)
    assert after_now == {"later", "forever", "text-ttl", "ancient"}
    assert remaining_keys(sandbox) == {"forever", "text-ttl", "ancient"}


def test_p07_lifecycle_expires_videos_at_the_midnight_after_one_day_and_keeps_other_prefixes(sandbox):
    # Given a video and an object outside the rule's prefix
    s3 = sandbox.client("s3")
    bucket = sandbox.stack.ref("MediaBucket")
    s3.put_object(Bucket=bucket, Key="videos/u-1/clip.mp4", Body=b"video")
    s3.put_object(Bucket=bucket, Key="exports/u-1/export.zip", Body=b"export")
    modified = s3.head_object(Bucket=bucket, Key="videos/u-1/clip.mp4")["LastModified"]
    expiry = next_midnight_after(modified + timedelta(days=1))
    sweeper = LifecycleSweeper(s3)

    # When the sweeper runs one second before S3's expiry time, then at it
    before = sweeper.sweep(expiry - timedelta(seconds=1))
    at_expiry = sweeper.sweep(expiry)

    # Then the video is expired at that midnight and nothing else is touched
    assert (before["expired"], at_expiry["expired"]) == (0, 1)
    keys = {entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == {"exports/u-1/export.zip"}


def test_p07_lifecycle_aborts_incomplete_multipart_uploads_a_day_after_they_appear(sandbox):
    # Given an upload started under videos/ and never completed
    s3 = sandbox.client("s3")
    bucket = sandbox.stack.ref("MediaBucket")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="videos/u-1/big.mp4")
    s3.create_multipart_upload(Bucket=bucket, Key="exports/u-1/other.zip")
    sweeper = LifecycleSweeper(s3)
    first_seen = datetime.now(UTC)

    # When the sweeper sees it, then runs again before and after the deadline
    first = sweeper.sweep(first_seen)
    before = sweeper.sweep(next_midnight_after(first_seen + timedelta(days=1)) - timedelta(seconds=1))
    after = sweeper.sweep(next_midnight_after(first_seen + timedelta(days=1)))

    # Then it is aborted once the day (rounded to midnight) has passed; the upload outside the prefix stays
    assert (first["aborted"], before["aborted"], after["aborted"]) == (0, 0, 1)
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [entry["Key"] for entry in uploads] == ["exports/u-1/other.zip"]
    assert upload["UploadId"] not in {entry["UploadId"] for entry in uploads}


def test_the_running_sandbox_sweeps_on_its_own_with_the_configured_periods_and_clock():
    # Given a sandbox whose clock runs three days ahead and whose sweepers run every 0.1 s
    three_days_ahead = lambda: datetime.now(UTC) + timedelta(days=3)  # noqa: E731
    config = sandbox_config(ttl_sweep_interval=0.1, lifecycle_sweep_interval=0.1, clock=three_days_ahead)
    with Sandbox(config) as sandbox:
        now = int(time.time())
        sandbox.client("dynamodb").put_item(
            TableName=sandbox.stack.ref("AppTable"), Item=item("soon", expires_at={"N": str(now + 3600)})
        )
        sandbox.client("s3").put_object(Bucket=sandbox.stack.ref("MediaBucket"), Key="videos/a.mp4", Body=b"a")

        # When a few periods pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            objects = sandbox.client("s3").list_objects_v2(Bucket=sandbox.stack.ref("MediaBucket")).get("Contents")
            if not remaining_keys(sandbox) and not objects:
                break
            time.sleep(0.1)

        # Then the item and the video are gone without anyone calling the sweepers
        assert remaining_keys(sandbox) == set()
        assert sandbox.client("s3").list_objects_v2(Bucket=sandbox.stack.ref("MediaBucket")).get("Contents") is None

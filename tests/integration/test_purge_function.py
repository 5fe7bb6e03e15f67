"""The purge function, invoked as EventBridge Scheduler invokes it, against moto resources from template.yaml."""

import boto3
from freezegun import freeze_time

from functions.purge import app


def test_p07_purge_deletes_videos_older_than_24_hours_and_keeps_the_rest(aws, function_env, lambda_context):
    # Given the purge function's environment, a video uploaded at 09:00 and one at 10:00 the next day
    function_env("PurgeFunction")
    s3 = boto3.client("s3")
    bucket = aws.ref("MediaBucket")
    with freeze_time("2026-12-03T09:00:00Z"):
        s3.put_object(Bucket=bucket, Key="videos/u1/old.mp4", Body=b"old")
    with freeze_time("2026-12-04T10:00:00Z"):
        s3.put_object(Bucket=bucket, Key="videos/u1/new.mp4", Body=b"new")

    # When the sweep runs the next day at 10:01, 25 hours after the first upload
    with freeze_time("2026-12-04T10:01:00Z"):
        result = app.lambda_handler({}, lambda_context)

    # Then only the old video is gone
    remaining = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert remaining == ["videos/u1/new.mp4"]
    assert (result["videos_deleted"], result["posts_resumed"]) == (1, 0)

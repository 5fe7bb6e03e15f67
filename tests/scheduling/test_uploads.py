"""POST /uploads: a presigned browser form POST into the user's own folder, checked for type and size."""

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import requests


def test_p06_upload_is_a_private_presigned_post_into_the_users_folder(creator, schedule_env):
    # Given a signed-in creator
    # When they ask to upload a 5 MB MP4
    answer = creator.request(
        "POST", "/uploads", json_body={"filename": "clip.mp4", "content_type": "video/mp4", "size": 5_000_000}
    )

    # Then they get a form POST for videos/<their id>/<upload id>, limited to that size and type
    assert answer.status == 201, answer.body
    ticket = answer.body
    assert ticket["method"] == "POST" and ticket["max_size"] == 5_000_000
    assert ticket["fields"]["key"] == f"videos/{creator.user_id}/{ticket['upload_id']}"
    policy = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    assert ["content-length-range", 1, 5_000_000] in policy["conditions"]
    assert {"Content-Type": "video/mp4"} in policy["conditions"]
    expires_in = datetime.fromisoformat(ticket["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=55) < expires_in <= timedelta(hours=1)
    # And the file, once sent with that form, is a private object nobody else can read (P06)
    sent = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("clip.mp4", b"\0" * 64)}, timeout=30)
    assert sent.status_code in (200, 204)
    s3 = boto3.client("s3")
    bucket = schedule_env.ref("MediaBucket")
    grants = s3.get_object_acl(Bucket=bucket, Key=ticket["fields"]["key"])["Grants"]
    assert all(grant["Grantee"].get("URI") is None for grant in grants)  # no AllUsers / AuthenticatedUsers grant
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_upload_of_a_type_tiktok_does_not_take_is_refused_naming_the_field(creator, schedule_env):
    answer = creator.request(
        "POST", "/uploads", json_body={"filename": "cat.gif", "content_type": "image/gif", "size": 1000}
    )
    assert answer.status == 422
    assert [f["field"] for f in answer.body["error"]["fields"]] == ["content_type"]


def test_upload_over_four_gigabytes_is_refused_naming_the_size(creator, schedule_env):
    answer = creator.request(
        "POST", "/uploads", json_body={"filename": "big.mp4", "content_type": "video/mp4", "size": 4 * 1024**3 + 1}
    )
    assert answer.status == 422
    assert [f["field"] for f in answer.body["error"]["fields"]] == ["size"]
    assert "4 GB" in answer.body["error"]["fields"][0]["problem"]


def test_upload_needs_a_session_and_csrf(creator, schedule_env):
    body = {"filename": "clip.mp4", "content_type": "video/mp4", "size": 10}
    assert creator.request("POST", "/uploads", json_body=body, csrf=None).status == 403
    creator.browser.jar.clear()
    assert creator.request("POST", "/uploads", json_body=body).status in (401, 403)

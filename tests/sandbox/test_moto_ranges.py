"""The sandbox's S3 answers ranged reads like S3, at the cost of the range (sandbox/moto_app.py)."""

import os

import httpx
import pytest
from botocore.exceptions import ClientError
from moto.s3.models import FakeKey

from sandbox.server import Sandbox

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def bucket(sandbox: Sandbox) -> str:
    name = sandbox.stack.ref("MediaBucket")
    sandbox.client("s3").put_object(Bucket=name, Key="videos/u1/v1", Body=DATA, ContentType="video/mp4")
    return name


@pytest.fixture
def whole_object_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time moto copies a whole stored object out (what a ranged GET must no longer do)."""
    copies: list[str] = []
    original = FakeKey.value.fget

    def counted(key: FakeKey) -> bytes:
        copies.append(key.name)
        return original(key)

    monkeypatch.setattr(FakeKey, "value", property(counted, FakeKey.value.fset))
    return copies


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-9999999", 0, len(DATA) - 1),  # an end past the object is clipped, as S3 does
        ("bytes=1048576-2097151", 1048576, 2097151),
        ("bytes=3145728-", 3145728, len(DATA) - 1),
    ],
)
def test_a_ranged_get_returns_exactly_the_range_with_s3s_headers_without_copying_the_object(
    sandbox, bucket, whole_object_copies, header, first, last
):
    answer = sandbox.client("s3").get_object(Bucket=bucket, Key="videos/u1/v1", Range=header)

    assert answer["Body"].read() == DATA[first : last + 1]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert answer["ContentRange"] == f"bytes {first}-{last}/{len(DATA)}"
    assert answer["ContentLength"] == last - first + 1
    assert answer["ContentType"] == "video/mp4"
    assert answer["ETag"] == sandbox.client("s3").head_object(Bucket=bucket, Key="videos/u1/v1")["ETag"]
    assert answer["ServerSideEncryption"] == "aws:kms"  # the bucket's default encryption, from the template
    assert whole_object_copies == []


def test_what_the_fast_path_does_not_cover_is_still_answered_by_moto(sandbox, bucket):
    s3 = sandbox.client("s3")
    # A range starting past the end: S3's InvalidRange
    with pytest.raises(ClientError) as invalid:
        s3.get_object(Bucket=bucket, Key="videos/u1/v1", Range=f"bytes={len(DATA)}-")
    assert invalid.value.response["Error"]["Code"] == "InvalidRange"
    # A missing object: NoSuchKey
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="videos/u1/none", Range="bytes=0-9")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    # A presigned ranged GET (query-string auth) and a plain GET: moto's own answers, same bytes
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "videos/u1/v1"})
    assert httpx.get(url, headers={"Range": "bytes=10-19"}).content == DATA[10:20]
    assert s3.get_object(Bucket=bucket, Key="videos/u1/v1")["Body"].read() == DATA

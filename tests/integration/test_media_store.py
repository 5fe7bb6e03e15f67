"""The media bucket adapter on moto: presigned browser uploads, ranged reads, deletion."""

import base64
import os

import boto3
import pytest

from flowctory.adapters.s3 import S3MediaStore


@pytest.fixture
def store(aws) -> S3MediaStore:
    return S3MediaStore(aws.ref("MediaBucket"))


def test_presigned_upload_is_a_post_limited_to_the_declared_size_and_type(store):
    upload = store.presign_upload("videos/u1/up1", content_type="video/mp4", max_size=5_000, expires_in=900)

    assert upload.fields["key"] == "videos/u1/up1"
    assert upload.fields["Content-Type"] == "video/mp4"
    policy = base64.b64decode(upload.fields["policy"]).decode()
    assert '["content-length-range", 1, 5000]' in policy
    assert "x-amz-signature" in upload.fields


def test_ranged_reads_return_exact_bytes_and_cover_the_object(aws, store):
    data = os.urandom(300_000)
    boto3.client("s3").put_object(Bucket=aws.ref("MediaBucket"), Key="videos/u1/v", Body=data)

    ranges = [(0, 99_999), (100_000, 199_999), (200_000, 299_999)]
    assert b"".join(store.read_ranges("videos/u1/v", ranges)) == data

    source = store.source("videos/u1/v", store.size_of("videos/u1/v"))
    assert source.size == 300_000
    assert source.read_at(299_990, 100) == data[299_990:]
    assert source.read_at(300_000, 10) == b""


def test_size_of_a_missing_object_is_none_and_delete_removes(aws, store):
    assert store.size_of("videos/u1/missing") is None
    boto3.client("s3").put_object(Bucket=aws.ref("MediaBucket"), Key="videos/u1/v", Body=b"x")
    store.delete("videos/u1/v")
    assert store.size_of("videos/u1/v") is None

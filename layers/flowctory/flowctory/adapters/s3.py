"""The media bucket: presigned uploads from the browser, ranged reads, deletion.

Video bytes never pass through API Gateway or sit whole in a Lambda's memory: the browser
uploads straight to S3, and the publish path reads the object back in ranges.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from flowctory.adapters import aws
from flowctory.ports import StoredObject

DELETE_BATCH = 1000  # S3 DeleteObjects accepts at most 1000 keys per request


@dataclass(frozen=True)
class PresignedUpload:
    """A browser form POST: S3 itself refuses a body outside [min_size, max_size] (unlike a presigned PUT)."""

    url: str
    fields: dict[str, str]


class S3ObjectSource:
    """Random access to one object by ranged GETs (the media probe's ByteSource)."""

    def __init__(self, bucket: str, key: str, size: int) -> None:
        self._bucket = bucket
        self._key = key
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        if length <= 0 or offset >= self._size:
            return b""
        end = min(offset + length, self._size) - 1
        response = aws.s3().get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={offset}-{end}")
        return response["Body"].read()


class S3MediaStore:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        paginator = aws.s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield StoredObject(key=entry["Key"], size=entry["Size"], last_modified=entry["LastModified"])

    def delete_objects(self, keys: Iterable[str]) -> None:
        pending = list(keys)
        for start in range(0, len(pending), DELETE_BATCH):
            batch = pending[start : start + DELETE_BATCH]
            response = aws.s3().delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
            if response.get("Errors"):
                failed = [error["Key"] for error in response["Errors"]]
                raise RuntimeError(f"S3 refused to delete {len(failed)} object(s): {failed[:5]}")

    def presign_upload(
        self, key: str, *, content_type: str, max_size: int, expires_in: int, min_size: int = 1
    ) -> PresignedUpload:
        conditions: list[Any] = [["content-length-range", min_size, max_size], {"Content-Type": content_type}]
        post = aws.s3().generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=post["fields"])

    def size_of(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        try:
            return aws.s3().head_object(Bucket=self._bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def stat(self, key: str) -> StoredObject | None:
        """The object's size and upload time, or None when there is no such object."""
        try:
            head = aws.s3().head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return StoredObject(key=key, size=head["ContentLength"], last_modified=head["LastModified"])

    def source(self, key: str, size: int) -> S3ObjectSource:
        return S3ObjectSource(self._bucket, key, size)

    def read_ranges(self, key: str, ranges: Iterable[tuple[int, int]]) -> Iterator[bytes]:
        """The bytes of each inclusive (first, last) range, one ranged GET each: memory stays one range."""
        for first, last in ranges:
            response = aws.s3().get_object(Bucket=self._bucket, Key=key, Range=f"bytes={first}-{last}")
            yield response["Body"].read()

    def delete(self, key: str) -> None:
        aws.s3().delete_object(Bucket=self._bucket, Key=key)

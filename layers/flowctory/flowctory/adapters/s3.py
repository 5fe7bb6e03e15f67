"""The media bucket."""

from collections.abc import Iterable, Iterator

from flowctory.adapters import aws
from flowctory.ports import StoredObject

DELETE_BATCH = 1000  # S3 DeleteObjects accepts at most 1000 keys per request


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

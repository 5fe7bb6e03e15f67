"""Fixtures of the publishing suite: moto from the template, the TikTok simulator over real HTTP on a
random port, a creator connected through the simulator's OAuth, real videos in the media bucket,
and the upload function run in-process with the template's environment."""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from flowctory import publishing_wiring, wiring
from flowctory.adapters import aws as aws_clients
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.tiktok.client import RetryPolicy
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import token_vault
from flowctory.domain.compose import MUSIC_DECLARATION
from flowctory.domain.publishing import PublishPolicy
from flowctory.media import FileSource, probe
from flowctory.models.posts import Post, VideoFacts
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from flowctory.settings import load_settings
from sandbox.events import http_api_event
from sandbox.stack import LocalStack, bootstrap
from tests.conftest import BOOTSTRAP_SESSION
from tests.tiktok import videos
from tests.tiktok.conftest import (  # noqa: F401 (fixtures shared with the TikTok suite)
    TEST_CONFIG,
    Sim,
    client,
    connect,
    shared_client,
    sim,
    sim_server,
    video_files,
    webhook_receiver,
)

USER = "u-pub-1"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
FAST_POLICY = PublishPolicy(poll_delays=(0.02, 0.05, 0.1, 0.2, 0.4), sleep=time.sleep)


class MovableClock:
    """The functions' clock, which a test moves forward (leases, follow-ups, the sweeper)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Stack:
    """The pieces a publishing test needs, wired as the upload function wires them."""

    aws: Any
    sim: Sim
    clock: MovableClock
    lambda_context: Any
    open_id: str
    posts: PostRepository
    accounts: TikTokAccountRepository
    bucket: str
    video: videos.Video
    use_function: Callable[[str], Any] = print
    created: list[str] = field(default_factory=list)

    def s3(self) -> Any:
        return boto3.client("s3")

    def new_post(
        self,
        post_id: str = "post-1",
        *,
        video: videos.Video | None = None,
        facts: dict[str, Any] | None = None,
        **changes: Any,
    ) -> Post:
        """A due post of the connected creator, its video uploaded to the media bucket."""
        video = video or self.video
        key = f"videos/{USER}/{post_id}"
        data = video.data
        self.s3().put_object(Bucket=self.bucket, Key=key, Body=data)
        metadata = probe(FileSource(video.path))
        now = self.clock()
        fields: dict[str, Any] = {
            "post_id": post_id,
            "user_id": USER,
            "account_open_id": self.open_id,
            "caption": "Hello from the publishing suite #test",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "allow_comment": True,
            "allow_duet": False,
            "allow_stitch": False,
            "consent_declaration": MUSIC_DECLARATION,
            "consent_at": now,
            "scheduled_at": now - timedelta(seconds=1),
            "timezone": "Europe/Paris",
            "video": VideoFacts(
                key=key,
                size=len(data),
                container=metadata.container,
                duration_seconds=metadata.duration_seconds,
                width=metadata.width,
                height=metadata.height,
                frame_rate=metadata.frame_rate,
                uploaded_at=now - timedelta(minutes=5),
            ).model_copy(update=facts or {}),
            "created_at": now,
            "updated_at": now,
        }
        fields.update(changes)
        post = Post(**fields)
        self.posts.create(post)
        self.created.append(post_id)
        return post

    def invoke(self, post_id: str = "post-1") -> dict[str, Any]:
        """The upload function, as its schedule (or a follow-up) invokes it."""
        from functions.upload import app

        return dict(app.lambda_handler({"user_id": USER, "post_id": post_id}, self.lambda_context))

    def post(self, post_id: str = "post-1") -> Post:
        post = self.posts.get(USER, post_id)
        assert post is not None
        return post

    def video_exists(self, post_id: str = "post-1") -> bool:
        listing = self.s3().list_objects_v2(Bucket=self.bucket, Prefix=f"videos/{USER}/{post_id}")
        return listing.get("KeyCount", 0) > 0

    def tiktok_posts(self) -> int:
        """How many posts the simulated TikTok made for this creator (its record of every publication)."""
        creators = self.sim.published()["creators"]
        return int(creators.get(self.open_id, {}).get("count", 0))

    def schedules(self) -> list[str]:
        """Names of the follow-up schedules waiting (a post's own schedule is not created in these tests)."""
        group = self.aws.function_environment("UploadFunction")["SCHEDULE_GROUP"]
        return sorted(s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"])

    def deliver_webhooks(self, receiver: Any, *, start: int = 0) -> list[dict[str, Any]]:
        """Hand what the simulator POSTed to the receiver to the webhooks function, as API Gateway would."""
        from functions.webhooks import app

        self.use_function("WebhooksFunction")
        try:
            answers = []
            for headers, body in receiver.received[start:]:
                lowered = {name.lower(): value for name, value in headers.items()}
                event = http_api_event("POST", "/webhooks/tiktok", headers=lowered, body=body)
                response = app.lambda_handler(event, self.lambda_context)
                answers.append({"status": response["statusCode"], **json.loads(response["body"] or "{}")})
            return answers
        finally:
            self.use_function("UploadFunction")

    def sweep(self) -> dict[str, Any]:
        """The purge function's run (every 15 minutes), at the functions' clock."""
        from functions.purge import app

        self.use_function("PurgeFunction")
        try:
            return dict(app.lambda_handler({}, self.lambda_context))
        finally:
            self.use_function("UploadFunction")

    def clear_faults(self) -> None:
        """TikTok recovers: every injected fault still armed is dropped."""
        assert httpx.delete(self.sim.url + "/_sim/faults").status_code == 200

    def fire_follow_ups(self, rounds: int = 12) -> list[str]:
        """Fire waiting follow-ups as EventBridge Scheduler would, moving the clock to each one's time."""
        scheduler = boto3.client("scheduler")
        group = self.aws.function_environment("UploadFunction")["SCHEDULE_GROUP"]
        outcomes: list[str] = []
        for _ in range(rounds):
            names = self.schedules()
            if not names:
                break
            for name in names:
                schedule = scheduler.get_schedule(Name=name, GroupName=group)
                at = datetime.fromisoformat(schedule["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)
                assert schedule["ScheduleExpressionTimezone"] == "UTC"
                self.clock.now = max(self.clock.now, at)
                scheduler.delete_schedule(Name=name, GroupName=group)  # ActionAfterCompletion: DELETE
                event = json.loads(schedule["Target"]["Input"])
                assert event["user_id"] == USER
                outcomes.append(self.invoke(event["post_id"])["outcome"])
        return outcomes


@pytest.fixture(scope="module")
def module_aws() -> Iterator[LocalStack]:
    """One moto stack per test module (bootstrapping it costs over a second); `stack` empties it per test."""
    with mock_aws():
        aws_clients.reset()
        wiring.reset()
        yield bootstrap(BOOTSTRAP_SESSION)
    aws_clients.reset()
    wiring.reset()


def empty(aws: LocalStack) -> None:
    """Forget what the previous test of the module left: items, follow-up schedules, videos."""
    table = boto3.resource("dynamodb").Table(aws.ref("AppTable"))
    with table.batch_writer() as batch:
        for item in table.scan(ProjectionExpression="pk, sk")["Items"]:
            batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    scheduler = boto3.client("scheduler")
    group = aws.ref("PostScheduleGroup")
    for schedule in scheduler.list_schedules(GroupName=group)["Schedules"]:
        scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
    s3 = boto3.client("s3")
    for obj in s3.list_objects_v2(Bucket=aws.ref("MediaBucket")).get("Contents", []):
        s3.delete_object(Bucket=aws.ref("MediaBucket"), Key=obj["Key"])


@pytest.fixture
def stack(
    module_aws: LocalStack,
    sim: Sim,  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
    video_files: videos.VideoSet,  # noqa: F811
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    aws = module_aws
    empty(aws)

    def use_function(function_id: str) -> dict[str, str]:
        """The template's environment of a function, pointed at the simulator."""
        environment = aws.function_environment(function_id)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        monkeypatch.setenv("TIKTOK_API_BASE_URL", sim.url)
        monkeypatch.setenv("TIKTOK_AUTH_BASE_URL", sim.url)
        monkeypatch.setenv("TIKTOK_CLIENT_KEY", TEST_CONFIG.client_key)
        load_settings.cache_clear()
        return environment

    environment = use_function("UploadFunction")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=environment["TIKTOK_SECRET_ARN"], SecretString=TEST_CONFIG.client_secret
    )
    clock = MovableClock()
    monkeypatch.setattr(publishing_wiring, "clock", clock)
    monkeypatch.setattr(publishing_wiring, "retry_policy", lambda: FAST_RETRY)
    monkeypatch.setattr(publishing_wiring, "publish_policy", lambda: FAST_POLICY)
    load_settings.cache_clear()
    publishing_wiring.reset()

    # A creator (the simulator's public account) connected through TikTok's OAuth with PKCE.
    grant = connect(0).grant
    table = SingleTable(environment["TABLE_NAME"])
    accounts = TikTokAccountRepository(table)
    tokens = token_vault.TokenPair(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        access_expires_at=grant.access_expires_at(clock()),
        refresh_expires_at=grant.refresh_expires_at(clock()),
        scopes=grant.scope,
    )
    cipher = KmsTokenCipher(environment["KMS_KEY_ID"])
    accounts.save(
        TikTokAccount(
            user_id=USER,
            open_id=grant.open_id,
            display_name="Ava",
            avatar_url="https://example.test/a.jpg",
            scopes=grant.scope,
            status=AccountStatus.ACTIVE,
            connected_at=clock(),
            sealed_tokens=token_vault.seal(cipher, tokens, user_id=USER, open_id=grant.open_id),
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
        )
    )
    yield Stack(
        aws=aws,
        sim=sim,
        clock=clock,
        lambda_context=lambda_context,
        open_id=grant.open_id,
        posts=PostRepository(table),
        accounts=accounts,
        bucket=environment["MEDIA_BUCKET"],
        video=video_files.mp4,
        use_function=use_function,
    )
    publishing_wiring.reset()

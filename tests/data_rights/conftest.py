"""Fixtures of the data-rights suite: the auth and purge functions in-process on moto (template
environment), the TikTok simulator over real HTTP, a fake Stripe that also deletes customers and
cancels subscriptions, and a creator with TikTok accounts, posts, schedules, videos and a subscription."""

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from flowctory import billing_wiring, data_rights_wiring, publishing_wiring, wiring
from flowctory.adapters.billing_store import DynamoBillingRepository
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.scheduler import PostScheduler
from flowctory.adapters.stripe_gateway import snapshot_from
from flowctory.adapters.tiktok.client import RetryPolicy
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import token_vault
from flowctory.domain.compose import MUSIC_DECLARATION
from flowctory.models.posts import Post, PostFailure, PostStatus, VideoFacts
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from tests.auth.conftest import LOCAL_ORIGIN, STRONG_PASSWORD, Browser, FrozenClock, Outbox
from tests.billing.fake_stripe import FakeStripe, _error
from tests.tiktok.conftest import (  # noqa: F401 (fixtures shared with the TikTok suite)
    TEST_CONFIG,
    Sim,
    client,
    connect,
    shared_client,
    sim,
    sim_server,
)

FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


class ErasingStripe(FakeStripe):
    """The billing suite's fake Stripe, plus what erasure calls: DELETE a subscription and a customer."""

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "DELETE":
            match = re.fullmatch(r"/v1/customers/([A-Za-z0-9_]+)", path)
            if match:
                customer_id = match.group(1)
                if customer_id not in self.customers:
                    return 404, _error("invalid_request_error", "No such customer.", code="resource_missing")
                self.delete_customer(customer_id)
                return 200, {"id": customer_id, "object": "customer", "deleted": True}
            match = re.fullmatch(r"/v1/subscriptions/([A-Za-z0-9_]+)", path)
            if match:
                subscription = self.subscriptions.get(match.group(1))
                if subscription is None:
                    return 404, _error("invalid_request_error", "No such subscription.", code="resource_missing")
                self.cancel(subscription["id"])
                return 200, dict(subscription)
        return super()._route(method, path, params)


@dataclass
class World:
    """What a data-rights test needs: the table, bucket and schedule group, and ways to make a creator."""

    aws: Any
    sim: Sim
    stripe: ErasingStripe
    clock: FrozenClock
    invoke_auth: Callable[[dict[str, Any]], dict[str, Any]]
    lambda_context: Any
    connect: Callable[..., Any]
    table_name: str
    bucket: str
    group: str
    kms_key: str
    grants: dict[str, Any] = field(default_factory=dict)  # open_id -> the grant (tokens) TikTok issued

    @property
    def table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.table_name)

    def browser(self) -> Browser:
        return Browser(invoke=self.invoke_auth, origin=LOCAL_ORIGIN)

    def sign_up(self, email: str) -> tuple[Browser, str]:
        browser = self.browser()
        answer = browser.sign_up(email)
        assert answer.status == 201, answer.body
        return browser, str(answer.body["user"]["id"])

    def connect_account(self, user_id: str, creator: int) -> str:
        """Connect the simulator's creator `creator` to the user (real OAuth with PKCE; tokens sealed with KMS)."""
        grant = self.connect(creator).grant
        now = self.clock()
        tokens = token_vault.TokenPair(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            access_expires_at=grant.access_expires_at(now),
            refresh_expires_at=grant.refresh_expires_at(now),
            scopes=grant.scope,
        )
        TikTokAccountRepository(SingleTable(self.table_name)).save(
            TikTokAccount(
                user_id=user_id,
                open_id=grant.open_id,
                display_name=f"Creator {creator}",
                avatar_url="https://example.test/avatar.jpg",
                scopes=grant.scope,
                status=AccountStatus.ACTIVE,
                connected_at=now,
                sealed_tokens=token_vault.seal(
                    KmsTokenCipher(self.kms_key), tokens, user_id=user_id, open_id=grant.open_id
                ),
                access_expires_at=tokens.access_expires_at,
                refresh_expires_at=tokens.refresh_expires_at,
            )
        )
        self.grants[grant.open_id] = grant
        return str(grant.open_id)

    def add_post(
        self, user_id: str, open_id: str, post_id: str, *, status: PostStatus = PostStatus.PENDING, **changes: Any
    ) -> Post:
        """A post with its video in the bucket; a pending one also gets its schedule (as POST /posts does)."""
        now = self.clock()
        key = f"videos/{user_id}/{post_id}"
        boto3.client("s3").put_object(Bucket=self.bucket, Key=key, Body=b"\x00" * 64)
        finished = status is not PostStatus.PENDING
        fields: dict[str, Any] = {
            "post_id": post_id,
            "user_id": user_id,
            "account_open_id": open_id,
            "caption": f"Caption of {post_id} #test",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "allow_comment": True,
            "allow_duet": False,
            "allow_stitch": False,
            "consent_declaration": MUSIC_DECLARATION,
            "consent_at": now,
            "scheduled_at": now + timedelta(hours=2) if not finished else now - timedelta(hours=1),
            "timezone": "Europe/Paris",
            "video": VideoFacts(
                key=key,
                size=64,
                container="mp4",
                duration_seconds=5.0,
                width=1080,
                height=1920,
                frame_rate=30.0,
                uploaded_at=now,
            ),
            "status": status,
            "created_at": now,
            "updated_at": now,
        }
        if status is PostStatus.PUBLISHED:
            fields.update(publish_id=f"v_pub_{post_id}", tiktok_post_id=f"7{abs(hash(post_id)) % 10**12}")
            fields.update(published_at=now, finished_at=now, expires_at=now + timedelta(days=90))
        elif status is PostStatus.FAILED:
            fields.update(failure=PostFailure(code="x", message="It failed.", retryable=True))
            fields.update(finished_at=now, expires_at=now + timedelta(days=90))
        fields.update(changes)
        post = Post(**fields)
        repository = PostRepository(SingleTable(self.table_name))
        repository.create(post)
        if post.publish_id:
            repository.save_publish_pointer(post.publish_id, user_id=user_id, post_id=post_id, open_id=open_id, now=now)
        if status is PostStatus.PENDING:
            self.scheduler().schedule(post_id=post_id, user_id=user_id, at=post.scheduled_at, timezone=post.timezone)
        return post

    def scheduler(self) -> PostScheduler:
        environment = self.aws.function_environment("ScheduleFunction")
        return PostScheduler(
            group=self.group,
            target_arn=environment["UPLOAD_FUNCTION_ARN"],
            role_arn=environment["SCHEDULER_ROLE_ARN"],
            dead_letter_arn=environment["DEAD_LETTER_QUEUE_ARN"],
        )

    def subscribe(self, user_id: str) -> tuple[str, str]:
        """A Stripe customer with an active subscription, linked to the user as the billing webhook links it."""
        gateway = billing_wiring.stripe()
        assert gateway is not None
        customer_id = gateway.create_customer(user_id=user_id, idempotency_key=secrets.token_hex(8))
        subscription_id, _ = self.stripe.create_subscription(
            customer_id, "price_creator", metadata={"user_id": user_id}
        )
        repository = DynamoBillingRepository(SingleTable(self.table_name))
        repository.link_customer(user_id, customer_id)
        snapshot = snapshot_from(self.stripe.subscriptions[subscription_id])
        repository.save_subscription(user_id, snapshot, fetched_at_ms=1, expected_version=None)
        return customer_id, subscription_id

    def purge(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from functions.purge import app

        return dict(app.lambda_handler(event or {}, self.lambda_context))

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (a Scan: tests only)."""
        table = self.table
        response = table.scan()
        found = list(response["Items"])
        while "LastEvaluatedKey" in response:
            response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
            found += response["Items"]
        return found

    def objects(self) -> list[str]:
        return [obj["Key"] for obj in boto3.client("s3").list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def schedules(self) -> list[dict[str, Any]]:
        scheduler = boto3.client("scheduler")
        found = scheduler.list_schedules(GroupName=self.group)["Schedules"]
        return [scheduler.get_schedule(Name=s["Name"], GroupName=self.group) for s in found]

    def grant_revoked(self, open_id: str) -> bool:
        return all(g.revoked for g in self.sim.simulator.grants.values() if g.open_id == open_id)

    def mentions(self, user_id: str) -> list[str]:
        """Where the user still appears: table items, video keys, schedule inputs."""
        found = [
            f"item {item['pk']} {item['sk']}" for item in self.items() if user_id in json.dumps(item, default=repr)
        ]
        found += [f"object {key}" for key in self.objects() if user_id in key]
        found += [f"schedule {s['Name']}" for s in self.schedules() if user_id in s["Target"]["Input"]]
        return found


@pytest.fixture
def fake_stripe() -> Iterator[ErasingStripe]:
    fake = ErasingStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def world(
    aws: Any,
    function_env: Callable[[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    sim: Sim,  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
    fake_stripe: ErasingStripe,
    lambda_context: Any,
) -> Iterator[World]:
    """The purge and auth functions' template environment (sandbox stage), TikTok at the simulator, Stripe at
    the fake, and one frozen clock for sessions and the purge function."""
    purge = function_env("PurgeFunction")
    function_env("AuthFunction")
    for name, value in {
        "WEB_ORIGIN": LOCAL_ORIGIN,
        "STAGE": "dev",
        "TIKTOK_API_BASE_URL": sim.url,
        "TIKTOK_AUTH_BASE_URL": sim.url,
        "TIKTOK_CLIENT_KEY": TEST_CONFIG.client_key,
        "STRIPE_API_BASE": fake_stripe.base_url,
        "PURGE_FUNCTION_ARN": "",
        **{name: purge[name] for name in ("MEDIA_BUCKET", "KMS_KEY_ID", "SCHEDULE_GROUP", "STRIPE_SECRET_ARN")},
    }.items():
        monkeypatch.setenv(name, value)
    secretsmanager = boto3.client("secretsmanager")
    secretsmanager.put_secret_value(SecretId=purge["TIKTOK_SECRET_ARN"], SecretString=TEST_CONFIG.client_secret)
    secretsmanager.put_secret_value(
        SecretId=purge["STRIPE_SECRET_ARN"],
        SecretString=json.dumps({"api_key": fake_stripe.api_key, "webhook_secret": "whsec_test"}),
    )
    for module in (wiring, billing_wiring, publishing_wiring, data_rights_wiring):
        module.reset()
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    wiring.sessions().clock = clock
    wiring.accounts().reset_request_min_seconds = 0
    monkeypatch.setattr(publishing_wiring, "clock", clock)
    monkeypatch.setattr(publishing_wiring, "retry_policy", lambda: FAST_RETRY)

    def invoke_auth(event: dict[str, Any]) -> dict[str, Any]:
        from functions.auth import app

        return dict(app.lambda_handler(event, lambda_context))

    yield World(
        aws=aws,
        sim=sim,
        stripe=fake_stripe,
        clock=clock,
        invoke_auth=invoke_auth,
        lambda_context=lambda_context,
        connect=connect,
        table_name=purge["TABLE_NAME"],
        bucket=purge["MEDIA_BUCKET"],
        group=purge["SCHEDULE_GROUP"],
        kms_key=purge["KMS_KEY_ID"],
    )
    for module in (billing_wiring, publishing_wiring, data_rights_wiring):
        module.reset()


@pytest.fixture
def outbox(aws: Any) -> Outbox:
    return Outbox()


__all__ = ["STRONG_PASSWORD", "ErasingStripe", "World"]

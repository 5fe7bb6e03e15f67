"""Fixtures of the scheduling suite: the schedule function in-process on moto, signed-in users (through
the auth function), TikTok accounts connected on the simulator over real HTTP, and real uploads."""

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from flowctory import wiring
from flowctory.adapters import aws as aws_clients
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import token_vault
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from sandbox.stack import LocalStack, bootstrap
from tests.auth.conftest import LOCAL_ORIGIN, Answer, Browser
from tests.conftest import BOOTSTRAP_SESSION
from tests.tiktok.conftest import (  # noqa: F401 (fixtures used by this suite)
    Connection,
    client,
    connect,
    shared_client,
    sim,
    sim_server,
    video_files,
)
from tests.tiktok.videos import Video


@pytest.fixture(scope="module")
def stack(sim_server) -> Iterator[LocalStack]:  # noqa: F811
    """One moto stack per module, with the auth and schedule functions' environments, TikTok being the
    simulator. Every test works as its own new users, whose items and schedules are theirs alone, so
    they share it safely; bootstrapping the stack for each test would cost over a second each."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        aws_clients.reset()
        wiring.reset()
        local = bootstrap(BOOTSTRAP_SESSION)
        for function_id in ("AuthFunction", "ScheduleFunction"):
            for name, value in local.function_environment(function_id).items():
                patch.setenv(name, value)
        patch.setenv("TIKTOK_API_BASE_URL", sim_server.url)
        patch.setenv("TIKTOK_AUTH_BASE_URL", sim_server.url)
        yield local
    aws_clients.reset()
    wiring.reset()


@pytest.fixture
def schedule_env(stack) -> Iterator[LocalStack]:
    wiring.reset()
    # Tests do not wait out the anti-timing floor of account requests.
    wiring.accounts().reset_request_min_seconds = 0
    yield stack
    wiring.reset()


@pytest.fixture
def invoke(lambda_context) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        from functions.auth import app as auth_app
        from functions.schedule import app as schedule_app

        app = auth_app if event["rawPath"].startswith("/auth") else schedule_app
        return app.lambda_handler(event, lambda_context)

    return call


@dataclass
class Creator:
    """A signed-in Flowctory user with one connected simulator TikTok account."""

    browser: Browser
    user_id: str
    open_id: str
    bucket: str
    schedule_group: str
    access_token: Any  # the simulator's token for this account (SecretStr), for calls TikTok's side makes

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self.browser.request(method, path, **kwargs)

    def upload(self, video: Video, *, content_type: str | None = None) -> str:
        """Ask for an upload, then send the file with the presigned form's fields (as a browser would)."""
        data = video.data
        answer = self.request(
            "POST",
            "/uploads",
            json_body={
                "filename": video.path.name,
                "content_type": content_type or video.content_type,
                "size": len(data),
            },
        )
        assert answer.status == 201, answer.body
        ticket = answer.body
        fields = ticket["fields"]
        key = fields["key"]
        assert key == f"videos/{self.user_id}/{ticket['upload_id']}"
        # The browser's form POST (moto intercepts `requests` in-process).
        sent = requests.post(ticket["url"], data=fields, files={"file": (video.path.name, data)}, timeout=30)
        assert sent.status_code in (200, 201, 204), sent.text
        return str(ticket["upload_id"])

    def post_body(self, upload_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "upload_id": upload_id,
            "account": self.open_id,
            "caption": "Sunset over the bay #sea",
            "privacy_level": "SELF_ONLY",
            "allow_comment": True,
            "allow_duet": False,
            "allow_stitch": False,
            "disclosure": {"enabled": False, "your_brand": False, "branded_content": False},
            "is_aigc": False,
            "scheduled_at": in_minutes(30),
            "consent": True,
        }
        body.update(overrides)
        return body

    def schedule(self, video: Video, **overrides: Any) -> Answer:
        return self.request("POST", "/posts", json_body=self.post_body(self.upload(video), **overrides))

    def schedules(self) -> dict[str, dict[str, Any]]:
        """This user's post schedules in EventBridge Scheduler (moto), by name, with their definitions."""
        scheduler = boto3.client("scheduler")
        found = {}
        for summary in scheduler.list_schedules(GroupName=self.schedule_group).get("Schedules", []):
            definition = scheduler.get_schedule(Name=summary["Name"], GroupName=self.schedule_group)
            if schedule_input(definition)["user_id"] == self.user_id:
                found[summary["Name"]] = definition
        return found


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


def save_account(aws: Any, user_id: str, connection: Connection) -> str:
    """Store the simulator's grant as a connected account, sealed with KMS as the OAuth callback does."""
    grant = connection.grant
    now = datetime.now(UTC)
    tokens = token_vault.TokenPair.from_grant(grant, issued_at=now)
    cipher = KmsTokenCipher(aws.ref("AppKey"))
    TikTokAccountRepository(SingleTable(aws.ref("AppTable"))).save(
        TikTokAccount(
            user_id=user_id,
            open_id=grant.open_id,
            display_name="Sim creator",
            avatar_url="https://example.com/a.png",
            scopes=tokens.scopes,
            status=AccountStatus.ACTIVE,
            connected_at=now,
            sealed_tokens=token_vault.seal(cipher, tokens, user_id=user_id, open_id=grant.open_id),
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
        )
    )
    return grant.open_id


_users = itertools.count(1)


@pytest.fixture
def new_creator(schedule_env, invoke, connect) -> Callable[..., Creator]:  # noqa: F811
    """Sign up a new user (auth function) and connect the simulator's creator `creator_index` to them."""

    def make(creator_index: int = 0) -> Creator:
        number = next(_users)
        # Each user signs up from its own address: sign-ups are rate-limited per IP.
        browser = Browser(invoke=invoke, origin=LOCAL_ORIGIN, source_ip=f"198.18.{number // 250}.{number % 250 + 1}")
        answer = browser.sign_up(f"creator{number}@example.com")
        assert answer.status == 201, answer.body
        user_id = answer.body["user"]["id"]
        connection = connect(creator_index)
        open_id = save_account(schedule_env, user_id, connection)
        return Creator(
            browser=browser,
            user_id=user_id,
            open_id=open_id,
            bucket=schedule_env.ref("MediaBucket"),
            schedule_group=schedule_env.ref("PostScheduleGroup"),
            access_token=connection.grant.access_token,
        )

    return make


@pytest.fixture
def creator(new_creator) -> Creator:
    return new_creator()


def schedule_input(definition: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(definition["Target"]["Input"]))

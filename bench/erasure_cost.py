"""AWS calls and time of one account erasure: a creator with 3 TikTok accounts and 200 posts.

The purge function erases the account (as DELETE /me's asynchronous invocation asks it to), in
process, against moto built from template.yaml, the TikTok simulator over HTTP (3 grants revoked)
and a fake Stripe (subscription cancelled, customer deleted). The posts are what a busy creator has
within the 90 days of metadata: 20 waiting (each with its schedule and video), 150 published (with
their publish pointers) and 30 failed, finished one an hour over the last 8 days. Every AWS call is
counted by botocore's event hooks.

Usage: python -m bench.erasure_cost [--posts 200] [--accounts 3]
"""

import bench.in_process  # noqa: F401 (first: the layer on the path, the environment set)

# isort: split

import argparse
import importlib
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
from moto import mock_aws

from bench import publishing_setup as setup
from bench.in_process import AwsCalls, LambdaContext
from flowctory import billing_wiring, data_rights_wiring, publishing_wiring, wiring
from flowctory.adapters import aws
from flowctory.adapters.accounts import DynamoAccountStore
from flowctory.adapters.billing_store import DynamoBillingRepository
from flowctory.adapters.data_rights import DynamoDataRightsStore
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.scheduler import PostScheduler
from flowctory.adapters.stripe_gateway import snapshot_from
from flowctory.adapters.tiktok import oauth
from flowctory.adapters.tiktok.client import TikTokClient
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import token_vault
from flowctory.models.accounts import UserProfile
from flowctory.models.posts import PostFailure, VideoFacts
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from flowctory.settings import load_settings
from sandbox.stack import bootstrap
from sandbox.tiktok_sim import SimulatorServer, TikTokSimulator

CONTEXT = LambdaContext("purge", memory_mb=512, timeout_seconds=300)
fake_stripe: Any = importlib.import_module("tests.billing.fake_stripe")
erasing: Any = importlib.import_module("tests.data_rights.conftest")
USER = setup.USER


def connect(sim_url: str, creator: int) -> str:
    with TikTokClient(
        client_key=setup.SIM_CONFIG.client_key,
        client_secret=setup.SIM_CONFIG.client_secret,
        api_base_url=sim_url,
        auth_base_url=sim_url,
    ) as client:
        verifier = oauth.new_code_verifier()
        scopes = ("user.info.basic", "video.publish", "video.upload")
        url = client.authorize_url(redirect_uri=setup.REDIRECT_URI, scopes=scopes, state="b", code_verifier=verifier)
        form = setup.oauth_pages.read_form(httpx.get(url).text)
        redirect = setup.oauth_pages.submit(url, form, creator=form.radios["creator"][creator][0])
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        grant = client.exchange_code(code=code, redirect_uri=setup.REDIRECT_URI, code_verifier=verifier)
    now = datetime.now(UTC)
    tokens = token_vault.TokenPair.from_grant(grant, issued_at=now)
    TikTokAccountRepository(SingleTable(os.environ["TABLE_NAME"])).save(
        TikTokAccount(
            user_id=USER,
            open_id=grant.open_id,
            display_name=f"Bench {creator}",
            avatar_url="https://example.test/a.jpg",
            scopes=grant.scope,
            status=AccountStatus.ACTIVE,
            connected_at=now,
            sealed_tokens=token_vault.seal(
                KmsTokenCipher(os.environ["KMS_KEY_ID"]), tokens, user_id=USER, open_id=grant.open_id
            ),
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
        )
    )
    return str(grant.open_id)


def seed(sim_url: str, stripe: Any, *, accounts: int, posts: int) -> None:
    now = datetime.now(UTC)
    table = SingleTable(os.environ["TABLE_NAME"])
    DynamoAccountStore(table).create_user(
        UserProfile(
            user_id=USER,
            email="bench@example.com",
            email_verified=True,
            name="Bench",
            timezone="UTC",
            created_at=now,
            updated_at=now,
            age_attested_at=now,
            terms_accepted_at=now,
            policy_version="2026-01-04",
        )
    )
    open_ids = [connect(sim_url, creator) for creator in range(accounts)]
    repository = PostRepository(table)
    scheduler = PostScheduler(
        group=os.environ["SCHEDULE_GROUP"],
        target_arn=os.environ["UPLOAD_FUNCTION_ARN"],
        role_arn=os.environ["SCHEDULER_ROLE_ARN"],
        dead_letter_arn=os.environ["DEAD_LETTER_QUEUE_ARN"],
    )
    s3 = boto3.client("s3")
    for index in range(posts):
        post_id = f"bench-{index:04d}"
        video = setup.due_post(post_id, open_ids[index % accounts], _video(post_id)).video
        if index < posts // 10:  # waiting: schedule and video
            s3.put_object(Bucket=os.environ["MEDIA_BUCKET"], Key=video.key, Body=b"\x00" * 1024)
            scheduler.schedule(post_id=post_id, user_id=USER, at=now + timedelta(hours=3), timezone="UTC")
            continue
        # Finished posts spread over the last 8 days (one an hour), as a creator's history is.
        finished = now - timedelta(hours=index - posts // 10)
        claimed = repository.claim(USER, post_id, attempt_id="a", now=finished, lease=timedelta(minutes=5))
        if index % 6:  # published
            repository.record_publish_id(USER, post_id, attempt_id="a", publish_id=f"v_{post_id}", now=finished)
            repository.save_publish_pointer(
                f"v_{post_id}", user_id=USER, post_id=post_id, open_id=claimed.account_open_id, now=finished
            )
            repository.mark_published(USER, post_id, tiktok_post_id="7000", now=finished)
        else:
            failure = PostFailure(code="x", message="m", retryable=False)
            repository.mark_failed(USER, post_id, failure=failure, now=finished)
    gateway = billing_wiring.stripe()
    assert gateway is not None
    customer = gateway.create_customer(user_id=USER, idempotency_key="bench")
    subscription_id, _ = stripe.create_subscription(customer, "price_creator")
    billing = DynamoBillingRepository(table)
    billing.link_customer(USER, customer)
    billing.save_subscription(
        USER, snapshot_from(stripe.subscriptions[subscription_id]), fetched_at_ms=1, expected_version=None
    )
    DynamoDataRightsStore(table).open_erasure(
        user_id=USER,
        request={
            "request_id": "bench",
            "user_id": USER,
            "email": "bench@example.com",
            "name": "Bench",
            "requested_at": now.isoformat(timespec="seconds"),
        },
        expected_session_version=1,
        email="bench@example.com",
        identities=[],
        now=now,
    )


def _video(post_id: str) -> VideoFacts:
    return VideoFacts(
        key=f"videos/{USER}/{post_id}", size=1024, container="mp4", duration_seconds=5.0, width=1080, height=1920,
        frame_rate=30.0, uploaded_at=datetime.now(UTC),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=3)
    args = parser.parse_args(argv)
    calls = AwsCalls()
    stripe = erasing.ErasingStripe().start()
    try:
        with mock_aws(), SimulatorServer(TikTokSimulator(setup.SIM_CONFIG)) as sim:
            aws.reset()
            stack = bootstrap(boto3.session.Session())
            os.environ.update(stack.function_environment("PurgeFunction"))
            os.environ["STRIPE_API_BASE"] = stripe.base_url
            aws.secretsmanager().put_secret_value(
                SecretId=os.environ["STRIPE_SECRET_ARN"],
                SecretString=json.dumps({"api_key": stripe.api_key, "webhook_secret": "whsec_bench"}),
            )
            load_settings.cache_clear()
            for module in (wiring, publishing_wiring, billing_wiring, data_rights_wiring):
                module.reset()
            setup.point_at_simulator(sim.url)
            seed(sim.url, stripe, accounts=args.accounts, posts=args.posts)
            stripe_before = len(stripe.requests)
            # Count from here: a fresh container (clients and secrets not yet fetched).
            aws.reset()
            for module in (publishing_wiring, billing_wiring, data_rights_wiring):
                module.reset()
            calls.listen()
            from functions.purge import app

            started = time.perf_counter()
            result = app.lambda_handler({"erase_user_id": USER}, CONTEXT)
            elapsed = time.perf_counter() - started
            revoked = sum(grant.revoked for grant in sim.simulator.grants.values())
    finally:
        stripe.stop()
    total = sum(calls.values())
    print(f"erasure of 1 user with {args.accounts} TikTok accounts and {args.posts} posts: {result}")
    print(f"time: {elapsed:.2f} s (in process, moto)   AWS calls: {total}")
    for (service, name), n in sorted(calls.items(), key=lambda item: -item[1]):
        print(f"  {service}.{name:<22} {n:>5}")
    print(f"TikTok grants revoked: {revoked}   Stripe requests: {len(stripe.requests) - stripe_before}")
    return 0 if result.get("accounts_erased") == 1 else 1


if __name__ == "__main__":
    sys.exit(main())

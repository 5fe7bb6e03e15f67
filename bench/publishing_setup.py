"""What both publishing benchmarks need: a creator connected to the TikTok simulator, a video in S3, a due post.

The AWS side is whatever boto3 reaches (moto in-process, or moto's server through AWS_ENDPOINT_URL);
the process environment must already be the upload function's (LocalStack.function_environment).
"""

import importlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx

from flowctory.adapters import aws
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.tiktok import oauth
from flowctory.adapters.tiktok.client import TikTokClient
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import token_vault
from flowctory.domain.compose import MUSIC_DECLARATION
from flowctory.media import FileSource, probe
from flowctory.models.posts import Post, VideoFacts
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from sandbox.tiktok_sim import SimulatorConfig

# The test suite's real-video generator and browser-like OAuth walk, reused (loaded by name: the test
# helpers are not type-checked like the code they test).
videos: Any = importlib.import_module("tests.tiktok.videos")
oauth_pages: Any = importlib.import_module("tests.tiktok.conftest")

USER = "bench-user"
REDIRECT_URI = "http://localhost:3000/api/tiktok/callback"
SIM_CONFIG = SimulatorConfig(
    processing_delay_seconds=0.0,
    moderation_delay_seconds=0.0,
    redirect_uris=[REDIRECT_URI],
    daily_post_cap=1000,
)


def point_at_simulator(sim_url: str) -> None:
    """The upload function's TikTok settings, aimed at the simulator (its client secret in Secrets Manager)."""
    os.environ.update(
        TIKTOK_API_BASE_URL=sim_url, TIKTOK_AUTH_BASE_URL=sim_url, TIKTOK_CLIENT_KEY=SIM_CONFIG.client_key
    )
    aws.secretsmanager().put_secret_value(
        SecretId=os.environ["TIKTOK_SECRET_ARN"], SecretString=SIM_CONFIG.client_secret
    )


def connect_creator(sim_url: str) -> str:
    """The OAuth round trip with PKCE, as a browser does it; the sealed tokens are stored. Returns the open_id."""
    with TikTokClient(
        client_key=SIM_CONFIG.client_key,
        client_secret=SIM_CONFIG.client_secret,
        api_base_url=sim_url,
        auth_base_url=sim_url,
    ) as client:
        verifier = oauth.new_code_verifier()
        scopes = ("user.info.basic", "video.publish", "video.upload")
        url = client.authorize_url(redirect_uri=REDIRECT_URI, scopes=scopes, state="bench", code_verifier=verifier)
        form = oauth_pages.read_form(httpx.get(url).text)
        redirect = oauth_pages.submit(url, form, creator=form.radios["creator"][0][0])
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        grant = client.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    now = datetime.now(UTC)
    tokens = token_vault.TokenPair.from_grant(grant, issued_at=now)
    cipher = KmsTokenCipher(os.environ["KMS_KEY_ID"])
    TikTokAccountRepository(SingleTable(os.environ["TABLE_NAME"])).save(
        TikTokAccount(
            user_id=USER,
            open_id=grant.open_id,
            display_name="Bench",
            avatar_url="https://example.test/a.jpg",
            scopes=grant.scope,
            status=AccountStatus.ACTIVE,
            connected_at=now,
            sealed_tokens=token_vault.seal(cipher, tokens, user_id=USER, open_id=grant.open_id),
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
        )
    )
    return grant.open_id


def small_mp4(folder: Path) -> bytes:
    path = videos.encode(
        folder / "seed.mp4", fmt="mp4", codec="libx264", width=360, height=640, fps=30, seconds=1, faststart=True
    )
    return path.read_bytes()


def stage_video(key: str, size: int, seed_mp4: bytes) -> VideoFacts:
    """A valid MP4 of `size` bytes (padded with a `free` box) uploaded to the media bucket, never held whole."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as file:
        for piece in videos.padded_mp4_pieces(seed_mp4, size):
            file.write(piece)
        file.flush()
        metadata = probe(FileSource(file.name))
        boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).upload_file(
            file.name, os.environ["MEDIA_BUCKET"], key
        )
    return VideoFacts(
        key=key,
        size=size,
        container=metadata.container,
        duration_seconds=metadata.duration_seconds,
        width=metadata.width,
        height=metadata.height,
        frame_rate=metadata.frame_rate,
        uploaded_at=datetime.now(UTC),
    )


def due_post(post_id: str, open_id: str, video: VideoFacts) -> Post:
    now = datetime.now(UTC)
    post = Post(
        post_id=post_id,
        user_id=USER,
        account_open_id=open_id,
        caption="bench",
        privacy_level="SELF_ONLY",
        allow_comment=True,
        allow_duet=False,
        allow_stitch=False,
        consent_declaration=MUSIC_DECLARATION,
        consent_at=now,
        scheduled_at=now - timedelta(seconds=1),
        timezone="UTC",
        video=video,
        created_at=now,
        updated_at=now,
    )
    PostRepository(SingleTable(os.environ["TABLE_NAME"])).create(post)
    return post


def read_whole(key: str, piece: int = 1 << 20) -> Iterator[int]:
    """A plain streaming S3 read of the object (the baseline): yields each piece's length."""
    body = aws.s3().get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)["Body"]
    for data in body.iter_chunks(piece):
        yield len(data)

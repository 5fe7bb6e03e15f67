"""Step 4 of the publishing path: one due post goes to TikTok exactly once.

The guarantees come from the post item's conditional writes, not from this process staying alive:

- an attempt starts by claiming the post (pending, or processing with a lapsed lease) and every
  later write is conditioned on still holding it, so two invocations never both publish;
- TikTok's publish_id is stored before the first byte, and a post that has one is never
  initialised again: a later attempt only polls its status. A publish whose bytes never all
  arrived cannot become a TikTok post, so an init whose answer was lost, or an upload whose
  attempt died, can never surface as a second post;
- long waits are a follow-up one-time schedule plus a lease that lapses just before it fires,
  never a sleeping Lambda; the sweeper (domain.reconcile) catches any follow-up that was lost.

Every ending is `published` (video deleted from S3 at once, metadata kept 90 days) or `failed`
with TikTok's reason in the creator's words and whether a retry can help.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from flowctory.adapters.tiktok import errors as tiktok_errors
from flowctory.clock import Clock, utcnow
from flowctory.domain import compose
from flowctory.domain.chunks import ChunkPlan, ChunkPlanError, plan_chunks
from flowctory.domain.tiktok_tokens import ReconnectRequired, TokenDeps, usable_tokens
from flowctory.errors import Conflict, NotFound, UpstreamError
from flowctory.media import MIME_TYPES, VideoMetadata
from flowctory.models.posts import Post, PostFailure, PostStage, PostStatus
from flowctory.models.tiktok import PublishStatus
from flowctory.observability import logger

if TYPE_CHECKING:
    from pydantic import SecretStr

    from flowctory.adapters.post_repository import PostRepository
    from flowctory.adapters.restrictions import ProcessingRestrictions
    from flowctory.adapters.s3 import S3MediaStore
    from flowctory.adapters.scheduler import PostScheduler
    from flowctory.adapters.tiktok.client import TikTokClient
    from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository

VIDEO_GONE_MESSAGE = "The video is no longer stored (we keep videos at most 24 hours). Upload it again."
INTERRUPTED_MESSAGE = "The upload to TikTok was interrupted before it finished. TikTok did not post it; you can retry."
EXPIRED_MESSAGE = "The upload to TikTok took longer than TikTok allows. TikTok did not post it; you can retry."
GAVE_UP_MESSAGE = "TikTok kept failing, so we stopped trying. TikTok did not post the video; you can retry later."
REVOKED_MESSAGE = (
    "TikTok access to this account was removed while the video was being published. "
    "Reconnect the account and check your TikTok profile before posting it again."
)


class Outcome(StrEnum):
    PUBLISHED = "published"
    FAILED = "failed"
    WAITING = "waiting"  # a follow-up run will carry on (TikTok still processing, or a retry after a fault)
    SKIPPED = "skipped"  # nothing to do: finished already, held by another attempt, or lease lost
    HELD = "held"  # the user restricts processing: back to waiting until they lift it


@dataclass(frozen=True)
class PublishResult:
    outcome: Outcome
    post_id: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"outcome": self.outcome.value, "post_id": self.post_id, "detail": self.detail}


@dataclass(frozen=True)
class PublishPolicy:
    """Timings of one attempt. Follow-ups back off; the attempt count bounds retries and waits together."""

    lease: timedelta = timedelta(minutes=15)
    max_attempts: int = 12
    # Status fetches right after the upload, in the same run (seconds before each); TikTok allows 30/min.
    poll_delays: tuple[float, ...] = (3.0, 5.0, 10.0, 15.0)
    follow_up_delays: tuple[timedelta, ...] = (
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=15),
    )
    heartbeat_every: timedelta = timedelta(seconds=20)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def follow_up_delay(self, attempts: int) -> timedelta:
        return self.follow_up_delays[min(max(attempts - 1, 0), len(self.follow_up_delays) - 1)]


@dataclass
class PublishDeps:
    posts: "PostRepository"
    accounts: "TikTokAccountRepository"
    tokens: TokenDeps
    tiktok: "TikTokClient"
    media: "S3MediaStore"
    scheduler: "PostScheduler"
    restrictions: "ProcessingRestrictions"
    clock: Clock = utcnow
    policy: PublishPolicy = field(default_factory=PublishPolicy)


class _LeaseLost(Exception):
    """Another attempt holds the post now: stop at once, write nothing more."""


def publish_post(deps: PublishDeps, *, user_id: str, post_id: str) -> PublishResult:
    """Publish one post if it is due and nobody else is at it; a no-op for a finished or held post."""
    attempt_id = uuid.uuid4().hex
    try:
        # No read first: the conditional claim is the check (missing, finished or held all refuse it).
        post = deps.posts.claim(user_id, post_id, attempt_id=attempt_id, now=deps.clock(), lease=deps.policy.lease)
    except Conflict:
        logger.info("publish skipped: no such post, finished, or held by another attempt")
        _delete_video_of_published(deps, user_id, post_id)
        return PublishResult(Outcome.SKIPPED, post_id, "not claimable")
    logger.info("post claimed", attempt=post.attempts, has_publish_id=post.publish_id is not None)
    attempt = _Attempt(deps, post, attempt_id)
    try:
        return attempt.run()
    except _LeaseLost:
        logger.warning("publish attempt lost its lease; stopping")
        return PublishResult(Outcome.SKIPPED, post_id, "lease lost")


def _delete_video_of_published(deps: PublishDeps, user_id: str, post_id: str) -> None:
    """A run that died between "published" and deleting the video left it behind (promise P07): Lambda
    retries that run, and the retry, refused the post, deletes it. Deleting a deleted object is a no-op."""
    post = deps.posts.get(user_id, post_id)
    if post is not None and post.status is PostStatus.PUBLISHED:
        deps.media.delete(post.video.key)


class _Attempt:
    def __init__(self, deps: PublishDeps, post: Post, attempt_id: str) -> None:
        self.deps = deps
        self.post = post
        self.attempt_id = attempt_id
        self.access_token: SecretStr | None = None

    # --- the steps -----------------------------------------------------------------------------

    def run(self) -> PublishResult:
        if self.deps.restrictions.is_restricted(self.post.user_id) and self.post.publish_id is None:
            # Held, not failed (promise P25); a post TikTok already has is only followed to its end.
            return self.hold()
        try:
            tokens = usable_tokens(self.deps.tokens, user_id=self.post.user_id, open_id=self.post.account_open_id)
        except ReconnectRequired as error:
            return self.fail("tiktok_reconnect_required", str(error), retryable=False)
        except NotFound:
            return self.fail("tiktok_account_missing", "This TikTok account is no longer connected.", retryable=False)
        except tiktok_errors.TikTokError as error:  # the refresh call itself failed (TikTok down, rate limited)
            return self.on_tiktok_error(error)
        except UpstreamError:
            return self.later("token refresh still running")
        self.access_token = tokens.access_token
        try:
            if self.post.publish_id is None:
                started = self.start()
                if started is not None:
                    return started
            return self.follow()
        except tiktok_errors.TikTokError as error:
            return self.on_tiktok_error(error)

    def start(self) -> PublishResult | None:
        """Re-check, init, store the publish_id, upload. A result when the attempt ends here."""
        post = self.post
        creator = self.deps.tiktok.creator_info(self.token)
        choices = compose.PostChoices(
            caption=post.caption,
            privacy_level=post.privacy_level,
            allow_comment=post.allow_comment,
            allow_duet=post.allow_duet,
            allow_stitch=post.allow_stitch,
            disclosure=compose.Disclosure(post.disclosure_enabled, post.your_brand, post.branded_content),
            is_aigc=post.is_aigc,
            cover_timestamp_ms=post.cover_timestamp_ms,
        )
        video = post.video
        metadata = VideoMetadata(
            container=video.container,  # type: ignore[arg-type]
            codec=None,
            duration_seconds=video.duration_seconds,
            width=video.width,
            height=video.height,
            frame_rate=video.frame_rate,
        )
        problems = {
            **compose.choice_problems(choices, creator, accepted_declaration=post.consent_declaration),
            **compose.video_problems(metadata, max_duration_seconds=creator.max_video_post_duration_sec),
        }
        if problems:
            # Creator settings changed since scheduling: TikTok would refuse (privacy) or the audit forbids it.
            return self.fail("no_longer_publishable", " ".join(problems.values()), retryable=False)
        stored_size = self.deps.media.size_of(video.key)
        if stored_size is None or stored_size != video.size:
            return self.fail("video_missing", VIDEO_GONE_MESSAGE, retryable=False)
        try:
            plan = plan_chunks(video.size)
        except ChunkPlanError as error:
            return self.fail("video_invalid", str(error), retryable=False)
        init = self.deps.tiktok.init_direct_post(self.token, compose.post_info(choices, creator), plan)
        now = self.deps.clock()
        # The pointer first: a crash between the two writes leaves a pointer to a publish no byte reaches.
        self.deps.posts.save_publish_pointer(
            init.publish_id, user_id=post.user_id, post_id=post.post_id, open_id=post.account_open_id, now=now
        )
        try:
            self.post = self.deps.posts.record_publish_id(
                post.user_id, post.post_id, attempt_id=self.attempt_id, publish_id=init.publish_id, now=now
            )
        except Conflict:
            raise _LeaseLost from None
        logger.info("tiktok publish started", publish_id=init.publish_id, chunks=plan.total_chunk_count)
        assert init.upload_url is not None  # the client refuses an init answer without one
        try:
            report = self.deps.tiktok.upload(
                init.upload_url,
                plan,
                self.chunks(plan, 0),
                content_type=MIME_TYPES.get(video.container, "video/mp4"),
                rewind=lambda offset: self.chunks(plan, offset),
            )
        except tiktok_errors.TikTokUploadExpired:
            return self.fail("tiktok_upload_expired", EXPIRED_MESSAGE, retryable=True)
        except tiktok_errors.TikTokError as error:
            # The upload URL dies with this run, so TikTok can never finish this publish: say so.
            return self.fail(error.code, INTERRUPTED_MESSAGE, retryable=True, tiktok=error)
        # The stage moves to tiktok_processing when this run hands over (follow); not written here, to save a write.
        logger.info("video sent to tiktok", chunks=report.chunks_sent, retries=report.retries)
        return None

    def chunks(self, plan: ChunkPlan, offset: int) -> Iterator[bytes]:
        """The video from `offset` on, one ranged GET per plan chunk, the next read while this one is sent.

        Reading ahead by one chunk overlaps S3 with TikTok, so memory stays at two chunks whatever the size.
        A heartbeat (progress and a longer lease) goes out now and then.
        """
        first_index = plan.index_at(offset) or 0
        ranges = [(chunk.first_byte, chunk.last_byte) for chunk in plan.ranges[first_index:]]
        reader = self.deps.media.read_ranges(self.post.video.key, ranges)
        last_beat = self.deps.clock()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-read-ahead") as pool:
            ahead: Future[bytes | None] | None = pool.submit(next, reader, None)
            position = 0
            while ahead is not None:
                data = ahead.result()
                if data is None:
                    break
                ahead = pool.submit(next, reader, None) if position + 1 < len(ranges) else None
                now = self.deps.clock()
                if position and now - last_beat >= self.deps.policy.heartbeat_every:
                    self.heartbeat(ranges[position][0], now)  # every chunk before this one was accepted
                    last_beat = now
                yield data
                del data  # the client holds the chunk it sends; this frame must not keep a third one
                position += 1

    def follow(self) -> PublishResult:
        """Poll TikTok for the publish's outcome for a little while, then hand over to a follow-up run."""
        publish_id = self.post.publish_id
        assert publish_id is not None
        for delay in (0.0, *self.deps.policy.poll_delays):
            if delay:
                self.deps.policy.sleep(delay)
            status = self.deps.tiktok.fetch_status(self.token, publish_id)
            ended = self.on_status(status)
            if ended is not None:
                return ended
        self.progress(PostStage.TIKTOK_PROCESSING, self.post.video.size)
        return self.later("tiktok still processing")

    def on_status(self, status: PublishStatus) -> PublishResult | None:
        if status.status == "PUBLISH_COMPLETE":
            return self.published(status.publicaly_available_post_id[0] if status.publicaly_available_post_id else None)
        if status.status == "FAILED":
            failure = tiktok_errors.publish_failure(status.fail_reason, publish_id=self.post.publish_id)
            return self.fail(status.fail_reason or "tiktok_failed", str(failure), retryable=failure.retryable)
        if status.status == "PROCESSING_UPLOAD" and (status.uploaded_bytes or 0) < self.post.video.size:
            # Only the attempt that died had the upload URL: these bytes will never all arrive.
            return self.fail("upload_interrupted", INTERRUPTED_MESSAGE, retryable=True)
        return None

    # --- endings -------------------------------------------------------------------------------

    def published(self, tiktok_post_id: str | None) -> PublishResult:
        post = self.post
        try:
            self.deps.posts.mark_published(post.user_id, post.post_id, tiktok_post_id=tiktok_post_id, now=self.now())
        except Conflict:
            current = self.deps.posts.get(post.user_id, post.post_id)
            if current is None or current.status is not PostStatus.PUBLISHED:
                raise
        self.deps.media.delete(post.video.key)  # promise P07: the video goes as soon as TikTok has it
        logger.info("post published", publish_id=post.publish_id, has_post_id=tiktok_post_id is not None)
        return PublishResult(Outcome.PUBLISHED, post.post_id, tiktok_post_id or "")

    def fail(
        self, code: str, message: str, *, retryable: bool, tiktok: tiktok_errors.TikTokError | None = None
    ) -> PublishResult:
        post = self.post
        try:
            self.deps.posts.mark_failed(
                post.user_id,
                post.post_id,
                failure=PostFailure(code=code, message=message, retryable=retryable),
                now=self.now(),
                attempt_id=self.attempt_id,
            )
        except Conflict:
            return PublishResult(Outcome.SKIPPED, post.post_id, "finished meanwhile, or taken over")
        logger.warning(
            "post failed",
            code=code,
            retryable=retryable,
            tiktok_code=tiktok.tiktok_code if tiktok else None,
            log_id=tiktok.log_id if tiktok else None,
        )
        return PublishResult(Outcome.FAILED, post.post_id, code)

    def hold(self) -> PublishResult:
        try:
            self.deps.posts.hold(self.post.user_id, self.post.post_id, attempt_id=self.attempt_id, now=self.now())
        except Conflict:
            raise _LeaseLost from None
        logger.info("post held: the user restricts processing")
        return PublishResult(Outcome.HELD, self.post.post_id, "processing restricted")

    def later(self, why: str) -> PublishResult:
        """Carry on in a follow-up run after a backoff, unless this post has used its attempts."""
        post = self.post
        if post.attempts >= self.deps.policy.max_attempts:
            return self.fail("gave_up", GAVE_UP_MESSAGE, retryable=True)
        at = self.now() + self.deps.policy.follow_up_delay(post.attempts)
        try:
            # The lease lapses just before the follow-up fires, so that run (or the sweeper) can claim it.
            self.deps.posts.extend_lease(post.user_id, post.post_id, attempt_id=self.attempt_id, until=at - SECOND)
        except Conflict:
            raise _LeaseLost from None
        self.deps.scheduler.follow_up(post_id=post.post_id, user_id=post.user_id, at=at, label=f"a{post.attempts}")
        logger.info("publish continues later", why=why, at=at.isoformat(timespec="seconds"))
        return PublishResult(Outcome.WAITING, post.post_id, why)

    def on_tiktok_error(self, error: tiktok_errors.TikTokError) -> PublishResult:
        if isinstance(error, tiktok_errors.TikTokTokenInvalid | tiktok_errors.TikTokReconnectRequired):
            # Tokens are refreshed ahead of expiry, so a refused token was revoked (authorization.removed).
            self.deps.accounts.require_reconnect(self.post.user_id, self.post.account_open_id, reason=error.code)
            message = REVOKED_MESSAGE if self.post.publish_id else tiktok_errors.ERROR_CODES["invalid_grant"][2]
            return self.fail("tiktok_reconnect_required", message, retryable=False, tiktok=error)
        if error.retryable:
            logger.info("tiktok fault; retrying later", code=error.code, tiktok_code=error.tiktok_code)
            return self.later(error.code)
        return self.fail(error.tiktok_code or error.code, str(error), retryable=False, tiktok=error)

    # --- writes under the lease ----------------------------------------------------------------

    def heartbeat(self, uploaded_bytes: int, now: datetime) -> None:
        try:
            self.deps.posts.heartbeat(
                self.post.user_id,
                self.post.post_id,
                attempt_id=self.attempt_id,
                uploaded_bytes=uploaded_bytes,
                now=now,
                until=now + self.deps.policy.lease,
            )
        except Conflict:
            raise _LeaseLost from None

    def progress(self, stage: PostStage, uploaded_bytes: int) -> None:
        try:
            self.post = self.deps.posts.record_progress(
                self.post.user_id,
                self.post.post_id,
                attempt_id=self.attempt_id,
                stage=stage,
                uploaded_bytes=uploaded_bytes,
                now=self.now(),
            )
        except Conflict:
            raise _LeaseLost from None

    @property
    def token(self) -> "SecretStr":
        assert self.access_token is not None
        return self.access_token

    def now(self) -> datetime:
        return self.deps.clock()


SECOND = timedelta(seconds=1)

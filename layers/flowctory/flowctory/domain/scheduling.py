"""Scheduling posts: presigned uploads, then posts validated in full before they are accepted.

A post is accepted only when every rule holds (the video's own boxes, the creator's fresh
creator_info, TikTok's composer rules, the retention window, the plan). Then the post is written
and its one-time schedule created; if the schedule cannot be created the post is removed again,
and should even that fail, the post stays pending in the due index, where the sweeper publishes
it as a lost schedule. Edits update the schedule, cancelling deletes it, and a retry is offered
only for a failure it can fix and only while TikTok never received the upload (no double post).
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowctory.clock import Clock, utcnow
from flowctory.domain import compose
from flowctory.domain.compose import Disclosure, PostChoices
from flowctory.errors import Conflict, NotFound, ValidationFailed
from flowctory.media import ByteSource, MediaProbeError, VideoMetadata, probe
from flowctory.models.posts import Post, PostStatus, VideoFacts
from flowctory.models.scheduling import CreatePostRequest, EditPostRequest, UploadRequest, UploadTicket, retry_can_help
from flowctory.models.tiktok import CreatorInfo, PublishStatus
from flowctory.models.tiktok_accounts import AccountStatus, TikTokAccount
from flowctory.observability import logger
from flowctory.ports import StoredObject

MAX_VIDEO_BYTES = 4 * 1024**3  # TikTok's limit (reference §4.4)
UPLOAD_CONTENT_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
ACCEPTED_CODECS = {"h264", "h265", "hevc", "vp8", "vp9"}
UPLOAD_LIFETIME = timedelta(hours=1)
NOW = "now"


class PresignedForm(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def fields(self) -> dict[str, str]: ...


class VideoStore(Protocol):
    def presign_upload(
        self, key: str, *, content_type: str, max_size: int, expires_in: int, min_size: int = 1
    ) -> PresignedForm: ...

    def stat(self, key: str) -> StoredObject | None: ...

    def source(self, key: str, size: int) -> ByteSource: ...


class PostStore(Protocol):
    def create(self, post: Post) -> None: ...

    def get(self, user_id: str, post_id: str) -> Post | None: ...

    def posts_using_video(self, user_id: str, video_key: str) -> list[str]: ...

    def list_page(
        self,
        user_id: str,
        *,
        status: PostStatus | None = None,
        account_open_id: str | None = None,
        scheduled_from: datetime | None = None,
        scheduled_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> tuple[list[Post], str | None]: ...

    def replace_pending(self, post: Post, *, expected_updated_at: datetime) -> Post: ...

    def discard_unscheduled(self, user_id: str, post_id: str) -> None: ...

    def cancel(self, user_id: str, post_id: str, *, now: datetime) -> Post: ...

    def reopen_for_retry(
        self,
        user_id: str,
        post_id: str,
        *,
        scheduled_at: datetime,
        now: datetime,
        abandoned_publish_id: str | None = None,
    ) -> Post: ...


class Schedules(Protocol):
    def schedule(self, *, post_id: str, user_id: str, at: datetime, timezone: str) -> None: ...

    def reschedule(self, *, post_id: str, user_id: str, at: datetime, timezone: str) -> None: ...

    def cancel(self, post_id: str) -> None: ...


class AccountLookup(Protocol):
    def get(self, user_id: str, open_id: str) -> TikTokAccount | None: ...


class PlanGate(Protocol):
    def check_can_schedule(self, user_id: str, *, scheduled_at: datetime, now: datetime) -> None: ...

    def check_can_retry(self, user_id: str, *, retries_used: int, now: datetime) -> None: ...


def new_post_id() -> str:
    """Creation-ordered (milliseconds first), so a user's posts list newest first by key alone."""
    millis = int(datetime.now(UTC).timestamp() * 1000)
    return f"{millis:012x}{secrets.token_hex(8)}"


@dataclass
class SchedulingDeps:
    posts: PostStore
    media: VideoStore
    schedules: Schedules
    accounts: AccountLookup
    creator_info: Callable[[str, str], CreatorInfo]  # (user_id, open_id): fresh from TikTok, tokens refreshed
    publish_status: Callable[[str, str, str], PublishStatus]  # (user_id, open_id, publish_id): TikTok's status
    plan: PlanGate
    retention: timedelta
    clock: Clock = utcnow
    new_upload_id: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(18))
    new_post_id: Callable[[], str] = new_post_id
    max_video_bytes: int = MAX_VIDEO_BYTES


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def video_key(user_id: str, upload_id: str) -> str:
    return f"videos/{user_id}/{upload_id}"


# --- uploads ---------------------------------------------------------------------------------


def request_upload(deps: SchedulingDeps, *, user_id: str, request: UploadRequest) -> UploadTicket:
    """A presigned browser POST for a new video; S3 itself refuses a body larger than declared.

    Raises:
        ValidationFailed: the type is not a video TikTok takes, or the size is over TikTok's limit.
    """
    problems: dict[str, str] = {}
    content_type = request.content_type.split(";", 1)[0].strip().lower()
    if content_type not in UPLOAD_CONTENT_TYPES:
        problems["content_type"] = "TikTok accepts MP4, MOV and WebM videos (video/mp4, video/quicktime, video/webm)."
    if request.size > deps.max_video_bytes:
        problems["size"] = f"TikTok accepts videos of up to {_size_text(deps.max_video_bytes)}."
    if problems:
        raise ValidationFailed(problems)
    upload_id = deps.new_upload_id()
    form = deps.media.presign_upload(
        video_key(user_id, upload_id),
        content_type=content_type,
        max_size=request.size,
        expires_in=int(UPLOAD_LIFETIME.total_seconds()),
    )
    return UploadTicket(
        upload_id=upload_id,
        url=form.url,
        fields=dict(form.fields),
        max_size=request.size,
        expires_at=deps.clock() + UPLOAD_LIFETIME,
    )


# --- times -----------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def resolve_time(value: str, *, timezone: str, now: datetime) -> tuple[datetime | None, dict[str, str]]:
    """The UTC instant of `value`: "now", ISO 8601 with an offset, or a wall-clock time in `timezone`.

    A wall-clock time that a DST change skips is refused; one it repeats is read as the first.
    """
    if value.strip().lower() == NOW:
        return now, {}
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, {"scheduled_at": 'Give a date and time like 2026-07-01T18:30, with an offset or not, or "now".'}
    if parsed.tzinfo is None:
        zone = _zone(timezone)
        if zone is None:
            return None, {}
        local = parsed.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
            return None, {"scheduled_at": "That time does not exist on that day in your time zone (clocks change)."}
        parsed = local
    return parsed.astimezone(UTC), {}


def _timezone_problems(timezone: str) -> dict[str, str]:
    if _zone(timezone) is None:
        return {"timezone": "Give an IANA time zone such as Europe/Paris."}
    return {}


# --- validation --------------------------------------------------------------------------------


def _account(deps: SchedulingDeps, user_id: str, open_id: str) -> TikTokAccount:
    account = deps.accounts.get(user_id, open_id)
    if account is None:
        raise NotFound("No such TikTok account is connected.")
    if account.status is not AccountStatus.ACTIVE:
        raise ValidationFailed({"account": "TikTok needs you to reconnect this account before we can post to it."})
    return account


def _video(deps: SchedulingDeps, user_id: str, upload_id: str) -> tuple[VideoFacts | None, dict[str, str]]:
    """What the video's own bytes say it is (ranged reads of its boxes; name and Content-Type are not trusted)."""
    key = video_key(user_id, upload_id)
    stored = deps.media.stat(key)
    if stored is None:
        raise NotFound("No such upload. Upload the video first, then schedule it.")
    if stored.size > deps.max_video_bytes:
        return None, {"video": f"TikTok accepts videos of up to {_size_text(deps.max_video_bytes)}."}
    try:
        metadata = probe(deps.media.source(key, stored.size))
    except MediaProbeError as error:
        logger.info("upload is not a usable video", problem=error.problem)
        return None, {"video": "This file is not a video TikTok accepts (MP4, MOV or WebM): " + str(error)}
    return _facts(key, stored, metadata), _codec_problems(metadata)


def _facts(key: str, stored: StoredObject, metadata: VideoMetadata) -> VideoFacts:
    return VideoFacts(
        key=key,
        size=stored.size,
        container=metadata.container,
        duration_seconds=metadata.duration_seconds,
        width=metadata.width,
        height=metadata.height,
        frame_rate=metadata.frame_rate,
        uploaded_at=stored.last_modified.astimezone(UTC),
    )


def _codec_problems(metadata: VideoMetadata) -> dict[str, str]:
    if metadata.container in compose.ACCEPTED_CONTAINERS and (metadata.codec or "") not in ACCEPTED_CODECS:
        return {"video.codec": "TikTok accepts H.264, H.265, VP8 and VP9 video; this one uses another codec."}
    return {}


def _as_metadata(video: VideoFacts) -> VideoMetadata:
    return VideoMetadata(
        container=video.container,  # type: ignore[arg-type]
        codec=None,
        duration_seconds=video.duration_seconds,
        width=video.width,
        height=video.height,
        frame_rate=video.frame_rate,
    )


def _accepted_declaration(consent: bool | None, declaration: str | None, disclosure: Disclosure) -> str | None:
    """The declaration the creator accepted: the text they were shown if sent, else the one for this disclosure."""
    if not consent:
        return None
    return declaration if declaration is not None else compose.declaration_for(disclosure)


def _choices_of(body: CreatePostRequest) -> PostChoices:
    return PostChoices(
        caption=body.caption,
        privacy_level=body.privacy_level,
        allow_comment=body.allow_comment,
        allow_duet=body.allow_duet,
        allow_stitch=body.allow_stitch,
        disclosure=Disclosure(
            enabled=body.disclosure.enabled,
            your_brand=body.disclosure.your_brand,
            branded_content=body.disclosure.branded_content,
        ),
        is_aigc=body.is_aigc,
        cover_timestamp_ms=body.cover_timestamp_ms,
    )


def _stored_choices(post: Post) -> PostChoices:
    return PostChoices(
        caption=post.caption,
        privacy_level=post.privacy_level,
        allow_comment=post.allow_comment,
        allow_duet=post.allow_duet,
        allow_stitch=post.allow_stitch,
        disclosure=Disclosure(
            enabled=post.disclosure_enabled, your_brand=post.your_brand, branded_content=post.branded_content
        ),
        is_aigc=post.is_aigc,
        cover_timestamp_ms=post.cover_timestamp_ms,
    )


def _cover_problems(choices: PostChoices, video: VideoFacts) -> dict[str, str]:
    if choices.cover_timestamp_ms is not None and choices.cover_timestamp_ms > video.duration_seconds * 1000:
        return {"cover_timestamp_ms": "The cover frame must be within the video."}
    return {}


# --- create ------------------------------------------------------------------------------------


def create_post(deps: SchedulingDeps, *, user_id: str, user_timezone: str, body: CreatePostRequest) -> Post:
    """Validate everything, then write the post and create its one schedule.

    Raises:
        NotFound: the upload or the account is not this user's.
        ValidationFailed: naming every field to change.
        TikTokCannotPostNow: TikTok says this creator cannot post now (try later).
        PlanLimitReached: the plan allows no more posts that month.
    """
    now = deps.clock()
    timezone = body.timezone or user_timezone
    problems = _timezone_problems(timezone)
    scheduled_at, time_parse_problems = resolve_time(body.scheduled_at, timezone=timezone, now=now)
    problems.update(time_parse_problems)
    account = _account(deps, user_id, body.account)
    video, video_problems = _video(deps, user_id, body.upload_id)
    problems.update(video_problems)
    creator = deps.creator_info(user_id, account.open_id)
    choices = _choices_of(body)
    accepted = _accepted_declaration(body.consent, body.declaration, choices.disclosure)
    problems.update(compose.choice_problems(choices, creator, accepted_declaration=accepted))
    if video is not None:
        metadata = _as_metadata(video)
        problems.update(compose.video_problems(metadata, max_duration_seconds=creator.max_video_post_duration_sec))
        problems.update(_cover_problems(choices, video))
        if scheduled_at is not None:
            problems.update(
                compose.time_problems(scheduled_at, now=now, uploaded_at=video.uploaded_at, retention=deps.retention)
            )
    if video is not None and deps.posts.posts_using_video(user_id, video.key):
        # The video is deleted as soon as one post of it is published (promise P07).
        problems["upload_id"] = "This video is already in another post. Upload it again to post it once more."
    if problems:
        raise ValidationFailed(problems)
    assert scheduled_at is not None and video is not None and choices.privacy_level is not None and accepted
    deps.plan.check_can_schedule(user_id, scheduled_at=scheduled_at, now=now)
    post = Post(
        post_id=deps.new_post_id(),
        user_id=user_id,
        account_open_id=account.open_id,
        creator_username=creator.creator_username or None,
        caption=choices.caption,
        privacy_level=choices.privacy_level,
        allow_comment=choices.allow_comment,
        allow_duet=choices.allow_duet,
        allow_stitch=choices.allow_stitch,
        disclosure_enabled=choices.disclosure.enabled,
        your_brand=choices.disclosure.your_brand,
        branded_content=choices.disclosure.branded_content,
        is_aigc=choices.is_aigc,
        cover_timestamp_ms=choices.cover_timestamp_ms,
        consent_declaration=accepted,
        consent_at=now,
        scheduled_at=scheduled_at,
        timezone=timezone,
        video=video,
        created_at=now,
        updated_at=now,
    )
    deps.posts.create(post)
    try:
        deps.schedules.schedule(post_id=post.post_id, user_id=user_id, at=scheduled_at, timezone=timezone)
    except Exception:
        _discard(deps, post)
        raise
    logger.info("post scheduled", post_id=post.post_id, scheduled_at=scheduled_at.isoformat())
    return post


def _discard(deps: SchedulingDeps, post: Post) -> None:
    """Undo a post whose schedule failed; if even that fails, the sweeper publishes it as a lost schedule."""
    try:
        deps.posts.discard_unscheduled(post.user_id, post.post_id)
    except Exception:
        logger.exception("post left without a schedule; the sweeper will pick it up", post_id=post.post_id)


# --- read --------------------------------------------------------------------------------------


def get_post(deps: SchedulingDeps, *, user_id: str, post_id: str) -> Post:
    """Raises:
    NotFound: no such post of this user.
    """
    post = deps.posts.get(user_id, post_id)
    if post is None:
        raise NotFound("No such post.")
    return post


@dataclass(frozen=True)
class PostQuery:
    status: PostStatus | None = None
    account: str | None = None
    scheduled_from: str | None = None
    scheduled_to: str | None = None
    cursor: str | None = None
    limit: int = 20


def list_posts(
    deps: SchedulingDeps, *, user_id: str, user_timezone: str, query: PostQuery
) -> tuple[list[Post], str | None]:
    """Raises:
    ValidationFailed: `from` or `to` is not a time.
    BadRequest: the cursor is not one this listing handed out.
    """
    now = deps.clock()
    bounds: dict[str, datetime | None] = {}
    problems: dict[str, str] = {}
    for name, value in (("from", query.scheduled_from), ("to", query.scheduled_to)):
        instant = None
        if value is not None:
            instant, found = resolve_time(value, timezone=user_timezone, now=now)
            if found:
                problems[name] = " ".join(found.values())
        bounds[name] = instant
    if problems:
        raise ValidationFailed(problems)
    return deps.posts.list_page(
        user_id,
        status=query.status,
        account_open_id=query.account,
        scheduled_from=bounds["from"],
        scheduled_to=bounds["to"],
        cursor=query.cursor,
        limit=query.limit,
    )


# --- edit, cancel, retry -------------------------------------------------------------------


def _pending(deps: SchedulingDeps, user_id: str, post_id: str) -> Post:
    post = get_post(deps, user_id=user_id, post_id=post_id)
    if post.status is not PostStatus.PENDING:
        raise Conflict(f"This post is {post.status.value}; only a post that is still waiting can change.")
    return post


def edit_post(deps: SchedulingDeps, *, user_id: str, post_id: str, body: EditPostRequest) -> Post:
    """Change a pending post's choices or time, re-checked against fresh creator_info; moves its schedule.

    Raises:
        NotFound: no such post of this user.
        Conflict: it is no longer pending, or changed meanwhile.
        ValidationFailed: naming every field to change.
    """
    now = deps.clock()
    post = _pending(deps, user_id, post_id)
    sent = body.model_fields_set
    old = _stored_choices(post)
    disclosure = old.disclosure
    if body.disclosure is not None:
        disclosure = Disclosure(
            enabled=body.disclosure.enabled,
            your_brand=body.disclosure.your_brand,
            branded_content=body.disclosure.branded_content,
        )
    choices = PostChoices(
        caption=body.caption if body.caption is not None else old.caption,
        privacy_level=body.privacy_level if body.privacy_level is not None else old.privacy_level,
        allow_comment=body.allow_comment if body.allow_comment is not None else old.allow_comment,
        allow_duet=body.allow_duet if body.allow_duet is not None else old.allow_duet,
        allow_stitch=body.allow_stitch if body.allow_stitch is not None else old.allow_stitch,
        disclosure=disclosure,
        is_aigc=body.is_aigc if body.is_aigc is not None else old.is_aigc,
        cover_timestamp_ms=body.cover_timestamp_ms if "cover_timestamp_ms" in sent else old.cover_timestamp_ms,
    )
    timezone = body.timezone or post.timezone
    problems = _timezone_problems(timezone)
    scheduled_at: datetime | None = post.scheduled_at
    if body.scheduled_at is not None:
        scheduled_at, found = resolve_time(body.scheduled_at, timezone=timezone, now=now)
        problems.update(found)
    accepted: str | None = post.consent_declaration
    consent_at = post.consent_at
    if body.consent is not None or body.declaration is not None:
        accepted, consent_at = _accepted_declaration(body.consent, body.declaration, disclosure), now
    creator = deps.creator_info(user_id, post.account_open_id)
    problems.update(compose.choice_problems(choices, creator, accepted_declaration=accepted))
    problems.update(
        compose.video_problems(_as_metadata(post.video), max_duration_seconds=creator.max_video_post_duration_sec)
    )
    problems.update(_cover_problems(choices, post.video))
    if scheduled_at is not None and scheduled_at != post.scheduled_at:
        problems.update(
            compose.time_problems(scheduled_at, now=now, uploaded_at=post.video.uploaded_at, retention=deps.retention)
        )
    if problems:
        raise ValidationFailed(problems)
    assert scheduled_at is not None and choices.privacy_level is not None and accepted is not None
    edited = post.model_copy(
        update={
            "caption": choices.caption,
            "privacy_level": choices.privacy_level,
            "allow_comment": choices.allow_comment,
            "allow_duet": choices.allow_duet,
            "allow_stitch": choices.allow_stitch,
            "disclosure_enabled": disclosure.enabled,
            "your_brand": disclosure.your_brand,
            "branded_content": disclosure.branded_content,
            "is_aigc": choices.is_aigc,
            "cover_timestamp_ms": choices.cover_timestamp_ms,
            "consent_declaration": accepted,
            "consent_at": consent_at,
            "scheduled_at": scheduled_at,
            "timezone": timezone,
            "creator_username": creator.creator_username or post.creator_username,
            "updated_at": now,
        }
    )
    stored = deps.posts.replace_pending(edited, expected_updated_at=post.updated_at)
    if (stored.scheduled_at, stored.timezone) != (post.scheduled_at, post.timezone):
        try:
            deps.schedules.reschedule(post_id=post_id, user_id=user_id, at=stored.scheduled_at, timezone=timezone)
        except Exception:
            _restore(deps, post, stored)
            raise
    return stored


def _restore(deps: SchedulingDeps, before: Post, after: Post) -> None:
    """Put the post back as its (unchanged) schedule still has it."""
    try:
        restored = before.model_copy(update={"updated_at": deps.clock()})
        deps.posts.replace_pending(restored, expected_updated_at=after.updated_at)
    except Exception:
        logger.exception("could not restore a post whose schedule did not move", post_id=before.post_id)


def cancel_post(deps: SchedulingDeps, *, user_id: str, post_id: str) -> Post:
    """Withdraw a pending post and delete its schedule (a schedule that still fires finds it cancelled).

    Raises:
        NotFound: no such post of this user.
        Conflict: it is no longer pending.
    """
    get_post(deps, user_id=user_id, post_id=post_id)
    cancelled = deps.posts.cancel(user_id, post_id, now=deps.clock())
    deps.schedules.cancel(post_id)
    return cancelled


def tiktok_never_posts(status: PublishStatus, video_size: int) -> bool:
    """TikTok's own word that a publish can never become a post: it failed, or its bytes never all arrived
    (only the attempt that died had the upload URL). Anything else may still appear on TikTok."""
    if status.status == "FAILED":
        return True
    return status.status == "PROCESSING_UPLOAD" and (status.uploaded_bytes or 0) < video_size


def retry_post(deps: SchedulingDeps, *, user_id: str, post_id: str) -> Post:
    """Publish a failed post again now, when its failure is one a retry can fix and TikTok does not have it.

    A post that already had a TikTok publish is retried only if TikTok, asked now, says that publish
    can never become a post; the next attempt then starts a new one. Otherwise it could post twice.

    Raises:
        NotFound: no such post of this user.
        Conflict: a retry cannot help, or TikTok may still post the earlier publish.
        ValidationFailed: the video is gone, or the creator's settings no longer allow the post.
        PlanLimitReached: the plan's retries for this post are used up.
    """
    now = deps.clock()
    post = get_post(deps, user_id=user_id, post_id=post_id)
    if not retry_can_help(post):
        reason = post.failure.message if post.failure else f"it is {post.status.value}."
        raise Conflict("Retrying cannot help this post: " + reason)
    problems = compose.time_problems(now, now=now, uploaded_at=post.video.uploaded_at, retention=deps.retention)
    if problems or deps.media.stat(post.video.key) is None:
        raise ValidationFailed({"video": "We no longer keep this video (24 hours after upload); upload it again."})
    _account(deps, user_id, post.account_open_id)
    if post.publish_id is not None:
        status = deps.publish_status(user_id, post.account_open_id, post.publish_id)
        if not tiktok_never_posts(status, post.video.size):
            raise Conflict("TikTok already has this video and may still post it, so retrying could post it twice.")
    creator = deps.creator_info(user_id, post.account_open_id)
    choice_problems = compose.choice_problems(
        _stored_choices(post), creator, accepted_declaration=post.consent_declaration
    )
    choice_problems.update(
        compose.video_problems(_as_metadata(post.video), max_duration_seconds=creator.max_video_post_duration_sec)
    )
    if choice_problems:
        raise ValidationFailed(choice_problems)
    deps.plan.check_can_retry(user_id, retries_used=post.retries, now=now)
    reopened = deps.posts.reopen_for_retry(
        user_id, post_id, scheduled_at=now, now=now, abandoned_publish_id=post.publish_id
    )
    if post.publish_id is not None:
        logger.info("earlier tiktok publish abandoned for a retry", publish_id=post.publish_id)
    try:
        deps.schedules.schedule(post_id=post_id, user_id=user_id, at=now, timezone=post.timezone)
    except Conflict:
        deps.schedules.reschedule(post_id=post_id, user_id=user_id, at=now, timezone=post.timezone)
    return reopened

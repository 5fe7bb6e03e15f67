"""/uploads and /posts: presigned video uploads, and scheduled posts (create, list, get, edit, cancel, retry).

Every route acts for the signed-in user only: ids of another user's uploads, posts or accounts
are simply not found (404), never their data.

The domain (`flowctory.domain.scheduling`: composition rules, the media probe, TikTok's models) and
its wiring (the repositories, KMS and the scheduler adapters) are imported inside the routes, so that
importing the handler stays within the cold-start budget (docs/build-and-bench.md).
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from flowctory import sessions
from flowctory.models.posts import PostStatus
from flowctory.models.scheduling import (
    CreatePostRequest,
    EditPostRequest,
    PostPage,
    PostView,
    UploadRequest,
    UploadTicket,
)

router = Router()
TAGS = ["posts"]
PostId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.post(
    "/uploads",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    summary="A presigned S3 form POST for a video (MP4, MOV or WebM, up to 4 GB)",
)
def create_upload(body: UploadRequest) -> UploadTicket:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    return scheduling.request_upload(schedule_wiring.scheduling(), user_id=session.user_id, request=body)


@router.post(
    "/posts",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    summary="Schedule an uploaded video on a connected TikTok account",
    description="Everything is validated before the post is accepted. `scheduled_at` is ISO 8601 with an offset, a "
    'local time in `timezone` (default: the profile\'s), or "now".',
)
def create_post(body: CreatePostRequest) -> PostView:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    post = scheduling.create_post(
        schedule_wiring.scheduling(), user_id=session.user_id, user_timezone=session.timezone, body=body
    )
    return PostView.of(post)


@router.get("/posts", tags=TAGS, summary="Post history, newest first")
def list_posts(
    status: Annotated[PostStatus | None, Query()] = None,
    account: Annotated[str | None, Query(max_length=128)] = None,
    scheduled_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    scheduled_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PostPage:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    query = scheduling.PostQuery(
        status=status,
        account=account,
        scheduled_from=scheduled_from,
        scheduled_to=scheduled_to,
        cursor=cursor,
        limit=limit,
    )
    posts, next_cursor = scheduling.list_posts(
        schedule_wiring.scheduling(), user_id=session.user_id, user_timezone=session.timezone, query=query
    )
    return PostPage(items=[PostView.of(post) for post in posts], next_cursor=next_cursor)


@router.get("/posts/<post_id>", tags=TAGS, summary="One post, with its status and TikTok link once public")
def get_post(post_id: PostId) -> PostView:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    return PostView.of(scheduling.get_post(schedule_wiring.scheduling(), user_id=session.user_id, post_id=post_id))


@router.patch("/posts/<post_id>", tags=TAGS, summary="Edit or reschedule a post that is still pending")
def edit_post(post_id: PostId, body: EditPostRequest) -> PostView:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    post = scheduling.edit_post(schedule_wiring.scheduling(), user_id=session.user_id, post_id=post_id, body=body)
    return PostView.of(post)


@router.delete("/posts/<post_id>", tags=TAGS, summary="Cancel a post that is still pending")
def cancel_post(post_id: PostId) -> PostView:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    return PostView.of(scheduling.cancel_post(schedule_wiring.scheduling(), user_id=session.user_id, post_id=post_id))


@router.post(
    "/posts/<post_id>/retry",
    tags=TAGS,
    summary="Publish a failed post again, when a retry can help and TikTok never received it",
)
def retry_post(post_id: PostId) -> PostView:
    from flowctory import schedule_wiring
    from flowctory.domain import scheduling

    session = sessions.current_session(router)
    return PostView.of(scheduling.retry_post(schedule_wiring.scheduling(), user_id=session.user_id, post_id=post_id))

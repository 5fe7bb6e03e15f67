"""/tiktok: connect a TikTok account (start and callback), list the connected accounts, creator info, disconnect.

The flow's state and PKCE verifier travel in three cookies (promise P30), sealed with the session
keys; the callback deletes all three whatever its outcome.

`flowctory.domain.tiktok_connection` (with the billing and token vault modules it brings: tens of
milliseconds of imports) is imported inside the routes, so that importing
the handler stays within the cold-start budget (docs/build-and-bench.md); the first request of a
container pays it instead.
"""

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from flowctory import cookies, sessions, wiring
from flowctory.errors import AppError
from flowctory.http import ErrorDetail, error_response, status_for
from flowctory.models.tiktok_connect import AccountList, AccountView, CreatorInfoView, Disconnected
from flowctory.observability import logger, tracer

if TYPE_CHECKING:
    from flowctory.domain.tiktok_connection import PendingConnection

router = Router()
TAGS = ["tiktok"]
FLOW_COOKIES = (cookies.TIKTOK_OAUTH_STATE, cookies.TIKTOK_CODE_VERIFIER, cookies.PENDING_CONNECTION)
PENDING_SEAL = "tiktok-pending-connection"
VERIFIER_SEAL = "tiktok-code-verifier"
REDIRECT: dict[int, OpenAPIResponse] = {302: {"description": "Redirect to TikTok, or back to the app."}}


def _now() -> datetime:
    return wiring.sessions().clock()


def _redirect(location: str) -> Response[None]:
    return Response(status_code=302, headers={"Location": location, "Referrer-Policy": "no-referrer"})


def _with_outcome(url: str, **outcome: str) -> str:
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(outcome)) if part)
    return urlunsplit(parts._replace(query=query))


def _claim_follows_connections(user_id: str) -> None:
    """The session's "TikTok connected" claim, re-signed in this response's cookie."""
    from flowctory.domain import tiktok_connection

    session = sessions.current_session(router)
    connected = bool(tiktok_connection.list_accounts(wiring.tiktok_connections(), user_id=user_id))
    sessions.replace_session(router, replace(session, tiktok_connected=connected))


def end_flow(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
    """The three flow cookies are deleted whatever the outcome of the callback (promise P30), errors included."""
    try:
        response = next_middleware(app)
    except AppError as error:
        status = status_for(error)
        logger.info("tiktok callback refused", error_code=error.code, status=int(status))
        response = error_response(status, ErrorDetail(code=error.code, message=error.message))
    secure = wiring.sessions().secure_cookies
    response.cookies.extend(cookies.clear_cookie(spec, secure=secure) for spec in FLOW_COOKIES)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/tiktok/connect", tags=TAGS, summary="Connect a TikTok account", responses=REDIRECT)
@tracer.capture_method
def start_connection(callback_url: Annotated[str, Query(max_length=2048)] = "/") -> Response[None]:
    from flowctory.domain import redirects, tiktok_connection

    session = sessions.current_session(router)
    service = wiring.sessions()
    target = redirects.safe_callback_url(callback_url, web_origin=wiring.tiktok_connections().web_origin)
    now = _now()
    url, pending = tiktok_connection.begin(
        wiring.tiktok_connections(), user_id=session.user_id, callback_url=target, now=now
    )
    ring, lifetime, secure = service.keys(), tiktok_connection.FLOW_LIFETIME, service.secure_cookies
    verifier = {"state": pending.state, "code_verifier": pending.code_verifier}
    carried = {"user_id": pending.user_id, "state": pending.state, "callback_url": pending.callback_url}
    response = _redirect(url)
    response.cookies.extend(
        [
            cookies.set_cookie(cookies.TIKTOK_OAUTH_STATE, pending.state, secure=secure),
            cookies.set_cookie(
                cookies.TIKTOK_CODE_VERIFIER,
                sessions.seal(ring, VERIFIER_SEAL, verifier, now=now, lifetime=lifetime),
                secure=secure,
            ),
            cookies.set_cookie(
                cookies.PENDING_CONNECTION,
                sessions.seal(ring, PENDING_SEAL, carried, now=now, lifetime=lifetime),
                secure=secure,
            ),
        ]
    )
    return response


def _carried_flow() -> "tuple[PendingConnection | None, str | None, str | None]":
    """The flow the three cookies carry (None if one is missing, expired or forged), the state cookie, the
    state sealed with the verifier."""
    from flowctory.domain.tiktok_connection import PendingConnection

    service = wiring.sessions()
    sent = sessions.request_cookies(router)
    state_cookie, sealed_verifier, sealed_pending = (
        cookies.read_cookie(sent, spec, secure=service.secure_cookies) for spec in FLOW_COOKIES
    )
    if sealed_verifier is None or sealed_pending is None:
        return None, state_cookie, None
    try:
        verifier = sessions.unseal(service.keys(), VERIFIER_SEAL, sealed_verifier, now=_now())
        carried = sessions.unseal(service.keys(), PENDING_SEAL, sealed_pending, now=_now())
        pending = PendingConnection(
            user_id=str(carried["user_id"]),
            state=str(carried["state"]),
            code_verifier=str(verifier["code_verifier"]),
            callback_url=str(carried["callback_url"]),
        )
        verifier_state = str(verifier["state"])
    except (sessions.InvalidSeal, KeyError):
        return None, state_cookie, None
    return pending, state_cookie, verifier_state


@router.get(
    "/tiktok/callback",
    tags=TAGS,
    summary="Where TikTok sends the browser back",
    responses=REDIRECT,
    middlewares=[end_flow],
)
@tracer.capture_method
def finish_connection(
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response[None]:
    from flowctory.domain import redirects, tiktok_connection

    pending, state_cookie, verifier_state = _carried_flow()
    session = sessions.optional_session(router)
    deps = wiring.tiktok_connections()
    now = _now()
    flow = tiktok_connection.verify_callback(
        deps,
        pending,
        state_cookie=state_cookie,
        verifier_state=verifier_state,
        state=state,
        user_id=session.user_id if session else None,
        now=now,
    )
    back = redirects.callback_url_or_default(flow.callback_url, web_origin=wiring.tiktok_connections().web_origin)
    try:
        account = tiktok_connection.complete(deps, flow, code=code, error=error, now=now)
    except tiktok_connection.ConnectionFailed as failed:
        logger.info("tiktok connection failed", error_code=failed.code)
        return _redirect(_with_outcome(back, tiktok_connect="failed", reason=failed.code))
    _claim_follows_connections(flow.user_id)
    logger.info("tiktok account connected", open_id=account.open_id)
    return _redirect(_with_outcome(back, tiktok_connect="connected", open_id=account.open_id))


@router.get("/tiktok/accounts", tags=TAGS, summary="The connected TikTok accounts")
@tracer.capture_method
def list_accounts() -> AccountList:
    from flowctory.domain import tiktok_connection

    session = sessions.current_session(router)
    accounts = tiktok_connection.list_accounts(wiring.tiktok_connections(), user_id=session.user_id)
    return AccountList(accounts=[AccountView.of(account) for account in accounts])


@router.get("/tiktok/accounts/<open_id>/creator-info", tags=TAGS, summary="What the creator may post now")
@tracer.capture_method
def get_creator_info(open_id: str) -> CreatorInfoView:
    from flowctory.domain import tiktok_connection

    session = sessions.current_session(router)
    status = tiktok_connection.creator_status(
        wiring.tiktok_connections(), user_id=session.user_id, open_id=open_id, now=_now()
    )
    view = CreatorInfoView(open_id=status.open_id, can_post=status.can_post, reason=status.reason)
    if status.info is not None:
        info = status.info
        view = view.model_copy(
            update={
                "nickname": info.creator_nickname,
                "username": info.creator_username,
                "avatar_url": info.creator_avatar_url,
                "privacy_level_options": list(info.privacy_level_options),
                "comment_disabled": info.comment_disabled,
                "duet_disabled": info.duet_disabled,
                "stitch_disabled": info.stitch_disabled,
                "max_video_post_duration_sec": info.max_video_post_duration_sec,
            }
        )
    return view


@router.delete("/tiktok/accounts/<open_id>", tags=TAGS, summary="Disconnect a TikTok account")
@tracer.capture_method
def disconnect_account(open_id: str) -> Disconnected:
    from flowctory.domain import tiktok_connection

    session = sessions.current_session(router)
    cancelled = tiktok_connection.disconnect(
        wiring.tiktok_connections(), user_id=session.user_id, open_id=open_id, now=_now()
    )
    _claim_follows_connections(session.user_id)
    logger.info("tiktok account disconnected", open_id=open_id, cancelled_posts=len(cancelled))
    return Disconnected(open_id=open_id, cancelled_posts=cancelled)

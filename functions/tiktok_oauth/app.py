"""TikTok connection API (API Gateway HTTP API): connect, callback, list, creator info and disconnect accounts."""

from dataclasses import replace
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowctory import access_log, cookies, sessions, wiring
from flowctory.domain import redirects, tiktok_connection
from flowctory.domain.tiktok_connection import PendingConnection
from flowctory.errors import AppError
from flowctory.http import ErrorDetail, create_app, error_response, status_for
from flowctory.models.tiktok_connect import AccountList, AccountView, CreatorInfoView, Disconnected
from flowctory.observability import logger, metrics, tracer

app = create_app()
access_log.install(app)
sessions.install(app, wiring.sessions)

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
    session = sessions.current_session(app)
    connected = bool(tiktok_connection.list_accounts(wiring.tiktok_connections(), user_id=user_id))
    sessions.replace_session(app, replace(session, tiktok_connected=connected))


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


@app.get("/tiktok/connect", tags=TAGS, summary="Connect a TikTok account", responses=REDIRECT)
@tracer.capture_method
def start_connection(callback_url: Annotated[str, Query(max_length=2048)] = "/") -> Response[None]:
    session = sessions.current_session(app)
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


def _carried_flow() -> tuple[PendingConnection | None, str | None, str | None]:
    """The flow the three cookies carry (None if one is missing, expired or forged), the state cookie, the
    state sealed with the verifier."""
    service = wiring.sessions()
    sent = sessions.request_cookies(app)
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


@app.get(
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
    pending, state_cookie, verifier_state = _carried_flow()
    session = sessions.optional_session(app)
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


@app.get("/tiktok/accounts", tags=TAGS, summary="The connected TikTok accounts")
@tracer.capture_method
def list_accounts() -> AccountList:
    session = sessions.current_session(app)
    accounts = tiktok_connection.list_accounts(wiring.tiktok_connections(), user_id=session.user_id)
    return AccountList(accounts=[AccountView.of(account) for account in accounts])


@app.get("/tiktok/accounts/<open_id>/creator-info", tags=TAGS, summary="What the creator may post now")
@tracer.capture_method
def get_creator_info(open_id: str) -> CreatorInfoView:
    session = sessions.current_session(app)
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


@app.delete("/tiktok/accounts/<open_id>", tags=TAGS, summary="Disconnect a TikTok account")
@tracer.capture_method
def disconnect_account(open_id: str) -> Disconnected:
    session = sessions.current_session(app)
    cancelled = tiktok_connection.disconnect(
        wiring.tiktok_connections(), user_id=session.user_id, open_id=open_id, now=_now()
    )
    _claim_follows_connections(session.user_id)
    logger.info("tiktok account disconnected", open_id=open_id, cancelled_posts=len(cancelled))
    return Disconnected(open_id=open_id, cancelled_posts=cancelled)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)

"""Helpers shared by the auth routers: request facts, the signed-in answer, and rate-limit headers."""

from datetime import datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter, Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from flowctory import cookies, sessions, wiring
from flowctory.domain.ratelimits import TooManyAttempts
from flowctory.http import ErrorDetail, error_response, status_for
from flowctory.models.accounts import SessionView, UserProfile, UserView
from flowctory.observability import logger


def now() -> datetime:
    return wiring.sessions().clock()


def source_ip(router: BaseRouter) -> str:
    http = router.current_event.raw_event.get("requestContext", {}).get("http", {})
    return str(http.get("sourceIp") or "unknown")


def user_view(profile: UserProfile, *, tiktok_connected: bool | None = None) -> UserView:
    deps = wiring.accounts()
    connected = deps.store.tiktok_connected(profile.user_id) if tiktok_connected is None else tiktok_connected
    return UserView.of(profile, tiktok_connected=connected, current_policy=deps.policy_version)


def sign_in(router: BaseRouter, profile: UserProfile, *, auth_time: datetime | None = None) -> SessionView:
    """Start a session for `profile`: a new session id, a new CSRF token bound to it, both cookies set."""
    service = wiring.sessions()
    tiktok_connected = wiring.accounts().store.tiktok_connected(profile.user_id)
    session = service.start(
        user_id=profile.user_id,
        email=profile.email,
        timezone=profile.timezone,
        tiktok_connected=tiktok_connected,
        version=profile.session_version,
        auth_time=auth_time,
    )
    csrf_token, csrf_cookie = service.new_csrf(session)
    sessions.respond_with_cookies(router, service.session_cookie(session), csrf_cookie)
    sessions.replace_session(router, session)
    logger.append_keys(user_id=profile.user_id)
    return SessionView(
        user=user_view(profile, tiktok_connected=tiktok_connected),
        csrf_token=csrf_token,
        expires_at=session.expires_at,
        absolute_expires_at=session.absolute_expires_at,
    )


def csrf_token_for(router: BaseRouter, session: sessions.Session | None) -> str:
    """The browser's CSRF token if it still fits this session, else a new one (set as a cookie)."""
    service = wiring.sessions()
    existing = cookies.read_cookie(sessions.request_cookies(router), cookies.CSRF, secure=service.secure_cookies)
    if existing is not None and service.csrf_valid(session, existing):
        return existing
    token, cookie = service.new_csrf(session)
    sessions.respond_with_cookies(router, cookie)
    return token


def no_referrer(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
    """Pages that handle tokens or OAuth codes must not leak their URL through Referer (security §4, §8)."""
    response = next_middleware(app)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def install_rate_limit_answer(router: Router) -> None:
    """A 429 carries Retry-After, with the same body whatever was limited (so it tells nothing)."""

    @router.exception_handler(TooManyAttempts)
    def too_many_attempts(error: TooManyAttempts) -> Response:
        logger.info("request refused", error_code=error.code, status=429, retry_after=error.retry_after)
        response = error_response(status_for(error), ErrorDetail(code=error.code, message=error.message))
        response.headers["Retry-After"] = str(error.retry_after)
        return response

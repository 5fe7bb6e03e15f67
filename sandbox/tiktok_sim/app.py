"""The TikTok simulator as a WSGI application: TikTok's paths, fields, limits and error shapes.

State lives in memory behind one lock; uploaded bytes go to temporary files. Background work
(processing, moderation, webhook deliveries) runs on timelines driven by a clock the control API
can advance. Every request that TikTok would refuse gets TikTok's documented shape and code; an
unexpected failure gets a 500 `internal_error` envelope, never a stack trace.
"""

import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from flowctory.media import FileSource, MediaProbeError, probe
from sandbox.tiktok_sim import rules
from sandbox.tiktok_sim.config import LIFETIME_PROFILES, Creator, SimulatorConfig, default_creators
from sandbox.tiktok_sim.pages import authorize_page, error_page
from sandbox.tiktok_sim.timeline import SimClock, Timeline
from sandbox.tiktok_sim.webhooks import WebhookSender

log = logging.getLogger("sandbox.tiktok_sim")

SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.publish", "video.upload", "video.list")
USER_FIELD_SCOPES = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
PRIVACY_LEVELS = {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}
POST_INFO_BOOLEANS = (
    "disable_duet",
    "disable_comment",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
)
VERIFIER_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
DAY = 86_400.0
CHUNK_INVALID = "The chunk size is invalid"
# A 1x1 transparent PNG, so avatar URLs resolve offline.
AVATAR_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


class ApiError(Exception):
    """A refusal in the v2 envelope shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class OAuthError(Exception):
    """A refusal in the flat OAuth shape ({"error", "error_description", "log_id"})."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def new_log_id() -> str:
    """TikTok's shape: a YYYYMMDDhhmmss timestamp then uppercase hex, 32 characters in all."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(9).upper()


def _big_id() -> int:
    """A 19-digit id, above 2**53 like TikTok's, so clients must not squeeze it through a float."""
    return 7_000_000_000_000_000_000 + secrets.randbelow(2_000_000_000_000_000_000)


@dataclass
class Code:
    code: str
    open_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str | None
    created_at: float
    used: bool = False


@dataclass
class Grant:
    grant_id: str
    open_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class Token:
    grant_id: str
    expires_at: float
    valid: bool = True


@dataclass
class Publish:
    publish_id: str
    open_id: str
    grant_id: str
    mode: str  # "direct" | "inbox"
    source: str  # "FILE_UPLOAD" | "PULL_FROM_URL"
    post_info: dict[str, Any]
    created_at: float
    video_size: int = 0
    chunk_size: int = 0
    total_chunk_count: int = 0
    video_url: str | None = None
    upload_id: str | None = None
    upload_token: str | None = None
    path: str | None = None
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    busy: bool = False
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str | None = None
    post_id: int | None = None
    public_post_ids: list[int] = field(default_factory=list)
    downloaded_bytes: int = 0
    metadata: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def privacy_level(self) -> str | None:
        value = self.post_info.get("privacy_level")
        return value if isinstance(value, str) else None

    @property
    def publish_type(self) -> str:
        return "INBOX_SHARE" if self.mode == "inbox" else "DIRECT_PUBLISH"

    def to_dict(self) -> dict[str, Any]:
        return {
            "publish_id": self.publish_id,
            "open_id": self.open_id,
            "mode": self.mode,
            "source": self.source,
            "status": self.status,
            "fail_reason": self.fail_reason,
            "post_info": self.post_info,
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
            "received_bytes": self.received,
            "sha256": self.hasher.hexdigest() if self.received == self.video_size and self.video_size else None,
            "post_id": str(self.post_id) if self.post_id else None,
            "public_post_ids": [str(i) for i in self.public_post_ids],
            "metadata": self.metadata,
            "chunks": list(self.chunks),
        }


@dataclass
class Fault:
    fault_id: str
    endpoint: str
    count: int = 1
    skip: int = 0  # let this many matching requests through first
    status: int | None = None
    error_code: str | None = None
    message: str | None = None
    delay_seconds: float = 0.0
    drop: bool = False
    after: bool = False  # handle the request first, then answer with the fault (a lost answer)
    raw_body: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class TikTokSimulator:
    """One simulated TikTok (OAuth, user info, Content Posting, uploads, webhooks) plus its control API."""

    def __init__(self, config: SimulatorConfig | None = None, creators: Iterable[Creator] | None = None) -> None:
        self._initial_config = config or SimulatorConfig()
        self._initial_config.check()
        self._initial_creators = list(creators) if creators is not None else default_creators()
        self.config = self._initial_config
        self.clock = SimClock()
        self.lock = threading.RLock()
        self._files = tempfile.mkdtemp(prefix="tiktok-sim-")
        self.processing = Timeline(self.clock, "tiktok-sim-processing")
        self.webhooks = WebhookSender(self.clock, lambda: self.config)
        self._clear_state()
        self.url_map = Map(
            [
                Rule("/v2/auth/authorize/", endpoint="authorize", methods=["GET", "POST"]),
                Rule("/v2/oauth/token/", endpoint="token", methods=["POST"]),
                Rule("/v2/oauth/revoke/", endpoint="revoke", methods=["POST"]),
                Rule("/v2/user/info/", endpoint="user_info", methods=["GET"]),
                Rule("/v2/post/publish/creator_info/query/", endpoint="creator_info", methods=["POST"]),
                Rule("/v2/post/publish/video/init/", endpoint="video_init", methods=["POST"]),
                Rule("/v2/post/publish/inbox/video/init/", endpoint="inbox_init", methods=["POST"]),
                Rule("/v2/post/publish/status/fetch/", endpoint="status", methods=["POST"]),
                Rule("/v2/post/publish/cancel/", endpoint="cancel", methods=["POST"]),
                Rule("/video/", endpoint="upload", methods=["PUT"]),
                Rule("/avatars/<name>", endpoint="avatar", methods=["GET"]),
                Rule("/_sim/health", endpoint="c_health", methods=["GET"]),
                Rule("/_sim/reset", endpoint="c_reset", methods=["POST"]),
                Rule("/_sim/config", endpoint="c_config", methods=["GET", "PATCH"]),
                Rule("/_sim/faults", endpoint="c_faults", methods=["GET", "POST", "DELETE"]),
                Rule("/_sim/clock", endpoint="c_clock", methods=["GET", "POST"]),
                Rule("/_sim/creators", endpoint="c_creators", methods=["GET"]),
                Rule("/_sim/creators/<open_id>", endpoint="c_creator", methods=["PATCH"]),
                Rule("/_sim/publishes", endpoint="c_publishes", methods=["GET"]),
                Rule("/_sim/publishes/<publish_id>", endpoint="c_publish", methods=["GET"]),
                Rule("/_sim/publishes/<publish_id>/inbox_post", endpoint="c_inbox_post", methods=["POST"]),
                Rule("/_sim/published", endpoint="c_published", methods=["GET"]),
                Rule("/_sim/webhooks", endpoint="c_webhooks", methods=["GET"]),
                Rule("/_sim/idle", endpoint="c_idle", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    # --- lifecycle -----------------------------------------------------------------------------

    def _clear_state(self) -> None:
        self.creators: dict[str, Creator] = {c.open_id: Creator(**c.__dict__) for c in self._initial_creators}
        self.codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.publishes: dict[str, Publish] = {}
        self.uploads: dict[str, str] = {}
        self.faults: list[Fault] = []
        self.rate_windows: dict[tuple[str, str], deque[float]] = {}
        self.direct_posts: dict[str, list[float]] = {}  # open_id -> init times (daily cap)
        self.active_users: dict[str, float] = {}  # open_id -> first post time in the 24 h window
        self.published: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Back to the initial configuration, creators and an empty state (between tests)."""
        with self.lock:
            self.processing.clear()
            self.webhooks.reset()
            for publish in self.publishes.values():
                if publish.path and os.path.exists(publish.path):
                    os.remove(publish.path)
            self.config = self._initial_config
            self.clock.reset()
            self._clear_state()

    def close(self) -> None:
        self.processing.stop()
        self.webhooks.stop()
        shutil.rmtree(self._files, ignore_errors=True)

    def idle(self) -> bool:
        """No processing or webhook work due or running."""
        return self.processing.idle() and self.webhooks.idle()

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        endpoint = "unknown"
        try:
            endpoint, arguments = adapter.match()
            fault = self._take_fault(str(endpoint))
            if fault and not fault.after:
                faulted = self._apply_fault(fault, request)
                if faulted is not None:
                    return faulted
            response = getattr(self, f"on_{endpoint}")(request, **arguments)
            if fault and fault.after:
                return self._apply_fault(fault, request) or response
            return response
        except ApiError as error:
            return self._envelope_error(error)
        except OAuthError as error:
            return self._oauth_error(error)
        except NotFound:
            return self._envelope_error(ApiError(404, "not_found", "The requested path does not exist."))
        except MethodNotAllowed:
            return self._envelope_error(ApiError(405, "method_not_allowed", "The method is not allowed here."))
        except HTTPException as error:
            return self._envelope_error(ApiError(error.code or 400, "invalid_params", "The request is malformed."))
        except Exception:
            log.exception("simulator error on %s", endpoint)
            return self._envelope_error(ApiError(500, "internal_error", "Internal error. Please retry later."))

    # --- response shapes -----------------------------------------------------------------------

    @staticmethod
    def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        response = Response(json.dumps(payload), status=status, content_type="application/json; charset=utf-8")
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _ok(self, data: dict[str, Any]) -> Response:
        log_id = new_log_id()
        body = {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id}}
        return self._json(body, headers={"X-Tt-Logid": log_id})

    def _envelope_error(self, error: ApiError) -> Response:
        log_id = new_log_id()
        body = {"data": {}, "error": {"code": error.code, "message": error.message, "log_id": log_id}}
        return self._json(body, error.status, {"X-Tt-Logid": log_id, **error.headers})

    def _oauth_error(self, error: OAuthError) -> Response:
        log_id = new_log_id()
        body = {"error": error.error, "error_description": error.description, "log_id": log_id}
        return self._json(body, int(self.config.oauth_error_status), {"X-Tt-Logid": log_id})

    # --- faults --------------------------------------------------------------------------------

    def _take_fault(self, endpoint: str) -> Fault | None:
        """The first armed fault for `endpoint`; every matching fault still skipping counts this request."""
        chosen = None
        with self.lock:
            for fault in self.faults:
                if fault.endpoint != endpoint or fault.count <= 0:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                elif chosen is None:
                    fault.count -= 1
                    fault.fired += 1
                    chosen = fault
        return chosen

    def _apply_fault(self, fault: Fault, request: Request) -> Response | None:
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.drop:
            length = request.content_length or 0
            if length:
                request.stream.read(max(1, length // 2))  # part of the body, then hang up
            connection = request.environ.get("werkzeug.socket")
            if isinstance(connection, socket.socket):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                finally:
                    connection.close()
            return Response(b"", status=500)
        if fault.status is None:
            return None
        if not fault.after:
            self._drain(request)
        headers = dict(fault.headers)
        if fault.raw_body is not None:
            response = Response(fault.raw_body, status=fault.status, content_type=fault.content_type or "text/html")
            for name, value in headers.items():
                response.headers[name] = value
            return response
        if fault.endpoint in ("token", "revoke") and fault.error_code and fault.status < 500:
            log_id = new_log_id()
            description = fault.message or "Injected failure."
            body = {"error": fault.error_code, "error_description": description, "log_id": log_id}
            return self._json(body, fault.status, {"X-Tt-Logid": log_id, **headers})
        if fault.endpoint == "upload":
            with self.lock:
                publish = self.publishes.get(self.uploads.get(request.args.get("upload_id", ""), ""))
                if fault.status == 416 and publish is not None and "Content-Range" not in headers:
                    headers["Content-Range"] = self._content_range_header(publish)
            response = Response(b"", status=fault.status)
            for name, value in headers.items():
                response.headers[name] = value
            return response
        code = fault.error_code or _default_code(fault.status)
        return self._envelope_error(ApiError(fault.status, code, fault.message or "Injected failure.", headers))

    @staticmethod
    def _drain(request: Request) -> None:
        try:
            while request.stream.read(1 << 20):
                pass
        except (ClientDisconnected, OSError):
            pass

    # --- OAuth: authorize ----------------------------------------------------------------------

    def _authorize_params(self, values: Any) -> dict[str, str]:
        """The checked authorization parameters; OAuthError(param) for the error page."""
        config = self.config
        params = {name: values.get(name, "") for name in ("client_key", "scope", "redirect_uri", "state")}
        params["response_type"] = values.get("response_type", "")
        challenge = values.get("code_challenge", "")
        method = values.get("code_challenge_method", "")
        if params["client_key"] != config.client_key:
            raise OAuthError("client_key", "The client_key is not registered.")
        if params["redirect_uri"] not in config.redirect_uris:
            raise OAuthError("redirect_uri", "The redirect_uri does not match a registered URI.")
        if params["response_type"] != "code":
            raise OAuthError("response_type", "response_type must be code.")
        scopes = [s.strip() for s in params["scope"].split(",") if s.strip()]
        if not scopes or any(s not in SCOPES for s in scopes):
            raise OAuthError("scope", "The scope is missing or not approved for this app.")
        if challenge or method:
            if method != "S256" or not challenge:
                raise OAuthError("code_challenge", "Only S256 PKCE challenges are supported.")
            params["code_challenge"], params["code_challenge_method"] = challenge, method
        elif config.pkce_required:
            raise OAuthError("code_challenge", "This app must send a PKCE code_challenge.")
        return params

    def on_authorize(self, request: Request) -> Response:
        values = request.args if request.method == "GET" else request.form
        try:
            params = self._authorize_params(values)
        except OAuthError as error:
            return Response(error_page(error.error, error.description), status=400, content_type="text/html")
        scopes = [s.strip() for s in params["scope"].split(",") if s.strip()]
        if request.method == "GET":
            with self.lock:
                creators = list(self.creators.values())
            action = request.script_root + "/v2/auth/authorize/"
            page = authorize_page(action, params, creators, scopes, self.config.client_key)
            return Response(page, content_type="text/html; charset=utf-8")
        state = params["state"]
        if request.form.get("decision", "authorize") != "authorize":
            return self._redirect(
                params["redirect_uri"], error="access_denied", error_description="User cancelled.", state=state
            )
        with self.lock:
            creator = self.creators.get(request.form.get("creator", ""))
        if creator is None:
            return Response(error_page("creator", "Choose one of the accounts."), status=400, content_type="text/html")
        if request.form.get("scope_form"):
            chosen = set(request.form.getlist("granted_scope"))
            granted = [s for s in scopes if s in chosen or s == "user.info.basic"]
        else:
            granted = scopes
        code = f"{secrets.token_urlsafe(24)}*{secrets.randbelow(10)}!{secrets.randbelow(10_000):04d}.u1"
        with self.lock:
            self.codes[code] = Code(
                code,
                creator.open_id,
                tuple(granted),
                params["redirect_uri"],
                params.get("code_challenge"),
                self.clock.now(),
            )
        return self._redirect(params["redirect_uri"], code=code, scopes=",".join(granted), state=state)

    @staticmethod
    def _redirect(base: str, **query: str) -> Response:
        separator = "&" if urlsplit(base).query else "?"
        response = Response(b"", status=302)
        response.headers["Location"] = base + separator + urlencode(query)
        return response

    # --- OAuth: token, refresh, revoke ---------------------------------------------------------

    def _check_client(self, request: Request) -> Any:
        if request.mimetype != "application/x-www-form-urlencoded":
            self._drain(request)
            raise OAuthError("invalid_request", "The request parameters are malformed.")
        form = request.form
        if not form.get("client_key"):
            raise OAuthError("invalid_request", "Client key is missed in request.")
        if form.get("client_key") != self.config.client_key:
            raise OAuthError("invalid_client", "The client_key is invalid.")
        if not form.get("client_secret"):
            raise OAuthError("invalid_client", "Client secret is missed in request.")
        if not secrets.compare_digest(form.get("client_secret", ""), self.config.client_secret):
            raise OAuthError("invalid_client", "The client_secret is invalid.")
        return form

    def on_token(self, request: Request) -> Response:
        form = self._check_client(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        raise OAuthError("unsupported_grant_type", "The grant_type is not supported.")

    def _exchange_code(self, form: Any) -> Response:
        code_value = form.get("code", "")
        now = self.clock.now()
        with self.lock:
            code = self.codes.get(code_value)
            if code is None or code.used or now - code.created_at > self.config.code_ttl_seconds:
                raise OAuthError("invalid_grant", "Authorization code is expired.")
            if form.get("redirect_uri", "") != code.redirect_uri:
                raise OAuthError("invalid_request", "Redirect_uri is not matched with the uri when requesting code.")
            if code.challenge is not None and not self._verifier_matches(form.get("code_verifier", ""), code.challenge):
                raise OAuthError("invalid_grant", "Code verifier or code challenge is invalid.")
            code.used = True
            grant = Grant(secrets.token_hex(8), code.open_id, code.scopes)
            self.grants[grant.grant_id] = grant
            return self._json(self._issue(grant, new_refresh=True))

    def _verifier_matches(self, verifier: str, challenge: str) -> bool:
        if not 43 <= len(verifier) <= 128 or not set(verifier) <= VERIFIER_CHARS:
            return False
        digest = hashlib.sha256(verifier.encode())
        candidates = [digest.hexdigest()]
        if self.config.pkce_accept_base64url:
            import base64

            candidates.append(base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode())
        return any(secrets.compare_digest(challenge, candidate) for candidate in candidates)

    def _issue(self, grant: Grant, *, new_refresh: bool, refresh_token: str | None = None) -> dict[str, Any]:
        access_seconds, refresh_seconds, _ = LIFETIME_PROFILES[self.config.lifetime_profile]
        now = self.clock.now()
        access = "act." + secrets.token_urlsafe(32)
        self.access_tokens[access] = Token(grant.grant_id, now + access_seconds)
        if new_refresh or refresh_token is None:
            refresh_token = "rft." + secrets.token_urlsafe(32)
            self.refresh_tokens[refresh_token] = Token(grant.grant_id, now + refresh_seconds)
        refresh_left = int(self.refresh_tokens[refresh_token].expires_at - now)
        return {
            "access_token": access,
            "expires_in": access_seconds,
            "open_id": grant.open_id,
            "refresh_expires_in": max(1, refresh_left),
            "refresh_token": refresh_token,
            "scope": ",".join(grant.scopes),
            "token_type": "Bearer",
        }

    def _refresh(self, form: Any) -> Response:
        value = form.get("refresh_token", "")
        strict = LIFETIME_PROFILES[self.config.lifetime_profile][2]
        with self.lock:
            token = self.refresh_tokens.get(value)
            grant = self._live_grant(token)
            if token is None or grant is None:
                raise OAuthError("invalid_grant", "The refresh_token is invalid or expired.")
            if strict:
                token.valid = False  # strict rotation: the old refresh token stops working now
                return self._json(self._issue(grant, new_refresh=True))
            return self._json(self._issue(grant, new_refresh=False, refresh_token=value))

    def on_revoke(self, request: Request) -> Response:
        form = self._check_client(request)
        value = form.get("token", "")
        if not value:
            raise OAuthError("invalid_request", "The token is missed in request.")
        with self.lock:
            token = self.access_tokens.get(value)
            grant = self.grants.get(token.grant_id) if token else None
            if grant is None or grant.revoked:
                return self._json({})
            grant.revoked = True
            for record in (*self.access_tokens.values(), *self.refresh_tokens.values()):
                if record.grant_id == grant.grant_id:
                    record.valid = False
            for publish in self.publishes.values():
                if publish.grant_id == grant.grant_id and publish.status.startswith("PROCESSING"):
                    self._fail(publish, "auth_removed")
            self.webhooks.emit(self.config.client_key, "authorization.removed", grant.open_id, {"reason": 5})
        return self._json({})

    # --- resource API plumbing -----------------------------------------------------------------

    def _live_grant(self, token: Token | None) -> Grant | None:
        """The grant of a token still usable (valid, unexpired, grant not revoked), else None. Under the lock."""
        if token is None or not token.valid or token.expires_at <= self.clock.now():
            return None
        grant = self.grants.get(token.grant_id)
        return None if grant is None or grant.revoked else grant

    def _authenticate(self, request: Request, scopes: tuple[str, ...]) -> tuple[str, Grant, Creator]:
        header = request.headers.get("Authorization", "")
        value = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with self.lock:
            grant = self._live_grant(self.access_tokens.get(value))
            if grant is None:
                raise ApiError(401, "access_token_invalid", "The access token is invalid or not found in the request.")
            if scopes and not set(scopes) & set(grant.scopes):
                raise ApiError(401, "scope_not_authorized", "The user did not authorize the scope required.")
            return value, grant, self.creators[grant.open_id]

    def _rate_limit(self, token: str, family: str) -> None:
        limit = self.config.rate_limits.get(family)
        if not limit:
            return
        now = self.clock.now()
        with self.lock:
            window = self.rate_windows.setdefault((token, family), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                raise ApiError(429, "rate_limit_exceeded", "Rate limit exceeded. Please retry later.")
            window.append(now)

    @staticmethod
    def _json_object(request: Request) -> dict[str, Any]:
        raw = request.get_data(cache=False)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "invalid_params", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_params", "The request body must be a JSON object.")
        return body

    # --- user info, creator info ---------------------------------------------------------------

    def on_user_info(self, request: Request) -> Response:
        token, grant, creator = self._authenticate(request, ("user.info.basic",))
        self._rate_limit(token, "user_info")
        fields = [f.strip() for f in request.args.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise ApiError(400, "invalid_params", "The fields parameter is required.")
        unknown = [f for f in fields if f not in USER_FIELD_SCOPES]
        if unknown:
            raise ApiError(400, "invalid_params", f"Unknown field(s): {', '.join(unknown)}.")
        if any(USER_FIELD_SCOPES[f] not in grant.scopes for f in fields):
            raise ApiError(400, "scope_permission_missed", "Some fields need scopes the user did not grant.")
        base = request.root_url.rstrip("/")
        profile: dict[str, Any] = {
            "open_id": creator.open_id,
            "union_id": creator.union_id,
            "avatar_url": creator.avatar_url(base),
            "avatar_url_100": creator.avatar_url(base),
            "avatar_large_url": creator.avatar_url(base),
            "display_name": creator.display_name,
            "bio_description": creator.bio_description,
            "profile_deep_link": f"https://www.tiktok.com/@{creator.username}",
            "is_verified": creator.is_verified,
            "username": creator.username,
            "follower_count": creator.follower_count,
            "following_count": 0,
            "likes_count": 0,
            "video_count": len([p for p in self.published if p["open_id"] == creator.open_id]),
        }
        return self._ok({"user": {f: profile[f] for f in fields}})

    def _cannot_post_code(self, creator: Creator) -> str | None:
        """Why this creator cannot post now, as TikTok's creator_info and init codes say it."""
        now = self.clock.now()
        if creator.banned:
            return "spam_risk_user_banned_from_posting"
        recent = [t for t in self.direct_posts.get(creator.open_id, []) if t > now - DAY]
        if len(recent) >= self.config.daily_post_cap:
            return "spam_risk_too_many_posts"
        active = {o for o, t in self.active_users.items() if t > now - DAY}
        cap = self.config.unaudited_user_cap if self.config.unaudited else self.config.active_user_cap
        if cap is not None and creator.open_id not in active and len(active) >= cap:
            return "reached_active_user_cap"
        return None

    def on_creator_info(self, request: Request) -> Response:
        token, _, creator = self._authenticate(request, ("video.publish",))
        self._rate_limit(token, "creator_info")
        self._drain(request)
        with self.lock:
            code = self._cannot_post_code(creator)
        if code:
            # TikTok answers these with HTTP 200 on purpose: the UI must stop and say "try later".
            log_id = new_log_id()
            body = {"data": {}, "error": {"code": code, "message": "The creator cannot post now.", "log_id": log_id}}
            return self._json(body, 200, {"X-Tt-Logid": log_id})
        return self._ok(
            {
                "creator_avatar_url": creator.avatar_url(request.root_url.rstrip("/")),
                "creator_username": creator.username,
                "creator_nickname": creator.display_name,
                "privacy_level_options": list(creator.privacy_level_options),
                "comment_disabled": creator.comment_disabled,
                "duet_disabled": creator.duet_disabled or creator.is_private,
                "stitch_disabled": creator.stitch_disabled or creator.is_private,
                "max_video_post_duration_sec": creator.max_video_post_duration_sec,
            }
        )

    # --- init ----------------------------------------------------------------------------------

    def on_video_init(self, request: Request) -> Response:
        token, grant, creator = self._authenticate(request, ("video.publish",))
        self._rate_limit(token, "video_init")
        body = self._json_object(request)
        post_info = body.get("post_info")
        if not isinstance(post_info, dict):
            raise ApiError(400, "invalid_params", "post_info is required.")
        self._check_post_info(post_info)
        source_info = self._check_source_info(body.get("source_info"))
        with self.lock:
            code = self._cannot_post_code(creator)
            if code:
                raise ApiError(403, code, "The creator cannot post now.")
            privacy = post_info.get("privacy_level")
            if self.config.unaudited and (not creator.is_private or privacy != "SELF_ONLY"):
                raise ApiError(
                    403,
                    "unaudited_client_can_only_post_to_private_accounts",
                    "Unaudited clients can only post to private accounts, with SELF_ONLY.",
                )
            if privacy not in creator.privacy_level_options:
                raise ApiError(
                    403, "privacy_level_option_mismatch", "privacy_level is not one of the creator's options."
                )
            effective = dict(post_info)
            for flag, disabled in (
                ("disable_comment", creator.comment_disabled),
                ("disable_duet", creator.duet_disabled or creator.is_private),
                ("disable_stitch", creator.stitch_disabled or creator.is_private),
            ):
                if disabled:
                    effective[flag] = True  # TikTok forces what the creator's settings disable
            now = self.clock.now()
            self.direct_posts.setdefault(creator.open_id, []).append(now)
            self.active_users.setdefault(creator.open_id, now)
            publish = self._new_publish(request, grant, "direct", source_info, effective)
        return self._ok(self._init_answer(request, publish))

    def on_inbox_init(self, request: Request) -> Response:
        token, grant, creator = self._authenticate(request, ("video.upload",))
        self._rate_limit(token, "inbox_init")
        body = self._json_object(request)
        source_info = self._check_source_info(body.get("source_info"))
        with self.lock:
            if creator.banned:
                raise ApiError(403, "spam_risk_user_banned_from_posting", "The creator cannot post now.")
            now = self.clock.now()
            pending = [
                p
                for p in self.publishes.values()
                if p.open_id == creator.open_id
                and p.mode == "inbox"
                and p.created_at > now - DAY
                and p.status in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX")
            ]
            if len(pending) >= self.config.pending_share_cap:
                raise ApiError(403, "spam_risk_too_many_pending_share", "Too many pending shares.")
            publish = self._new_publish(request, grant, "inbox", source_info, {})
        return self._ok(self._init_answer(request, publish))

    def _check_post_info(self, post_info: dict[str, Any]) -> None:
        privacy = post_info.get("privacy_level")
        if privacy is None:
            raise ApiError(403, "privacy_level_option_mismatch", "privacy_level is required.")
        if privacy not in PRIVACY_LEVELS:
            raise ApiError(400, "invalid_params", "privacy_level is invalid.")
        for name in POST_INFO_BOOLEANS:
            if name in post_info and not isinstance(post_info[name], bool):
                raise ApiError(400, "invalid_params", f"{name} must be a boolean.")
        if self.config.require_brand_content_toggle and "brand_content_toggle" not in post_info:
            raise ApiError(400, "invalid_params", "brand_content_toggle is required.")
        title = post_info.get("title")
        if title is not None and (not isinstance(title, str) or rules.utf16_units(title) > 2200):
            raise ApiError(400, "invalid_params", "The title is invalid or longer than 2200 characters.")
        cover = post_info.get("video_cover_timestamp_ms")
        if cover is not None and (not isinstance(cover, int) or isinstance(cover, bool) or cover < 0):
            raise ApiError(400, "invalid_params", "video_cover_timestamp_ms is invalid.")
        if post_info.get("brand_content_toggle") is True and privacy == "SELF_ONLY":
            raise ApiError(400, "invalid_params", "Branded content visibility cannot be set to private.")

    def _check_source_info(self, source_info: Any) -> dict[str, Any]:
        if not isinstance(source_info, dict):
            raise ApiError(400, "invalid_params", "source_info is required.")
        source = source_info.get("source")
        if source == "PULL_FROM_URL":
            url = source_info.get("video_url")
            if not isinstance(url, str) or not url:
                raise ApiError(400, "invalid_params", "video_url is required for PULL_FROM_URL.")
            if not any(url.startswith(prefix) for prefix in self.config.verified_url_prefixes):
                raise ApiError(403, "url_ownership_unverified", "The URL's domain or prefix is not verified.")
            return {"source": source, "video_url": url}
        if source != "FILE_UPLOAD":
            raise ApiError(400, "invalid_params", "source must be FILE_UPLOAD or PULL_FROM_URL.")
        numbers = {}
        for name in ("video_size", "chunk_size", "total_chunk_count"):
            value = source_info.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ApiError(400, "invalid_params", CHUNK_INVALID)
            numbers[name] = value
        problem = rules.chunk_plan_problem(
            numbers["video_size"],
            numbers["chunk_size"],
            numbers["total_chunk_count"],
            mb_unit=self.config.mb_unit,
            strict_single_chunk=self.config.strict_single_chunk,
        )
        if problem:
            log.info("init refused: %s", problem)
            raise ApiError(400, "invalid_params", CHUNK_INVALID)
        return {"source": source, **numbers}

    def _new_publish(
        self, request: Request, grant: Grant, mode: str, source_info: dict[str, Any], post_info: dict[str, Any]
    ) -> Publish:
        file_upload = source_info["source"] == "FILE_UPLOAD"
        prefix = {"direct": "v_pub", "inbox": "v_inbox"}[mode]
        kind = "file~v2-1" if (file_upload and mode == "direct") else ("file~v2" if file_upload else "url~v2")
        publish = Publish(
            publish_id=f"{prefix}_{kind}.{_big_id()}",
            open_id=grant.open_id,
            grant_id=grant.grant_id,
            mode=mode,
            source=source_info["source"],
            post_info=post_info,
            created_at=self.clock.now(),
            status="PROCESSING_UPLOAD" if file_upload else "PROCESSING_DOWNLOAD",
        )
        if file_upload:
            publish.video_size = source_info["video_size"]
            publish.chunk_size = source_info["chunk_size"]
            publish.total_chunk_count = source_info["total_chunk_count"]
            publish.upload_id = secrets.token_hex(12)
            publish.upload_token = secrets.token_urlsafe(24)
            handle, publish.path = tempfile.mkstemp(dir=self._files, suffix=".upload")
            os.close(handle)
            self.uploads[publish.upload_id] = publish.publish_id
        else:
            publish.video_url = source_info["video_url"]
            self.processing.after(0, lambda: self._pull(publish.publish_id))
        self.publishes[publish.publish_id] = publish
        return publish

    def _init_answer(self, request: Request, publish: Publish) -> dict[str, Any]:
        answer: dict[str, Any] = {"publish_id": publish.publish_id}
        if publish.upload_id:
            base = (self.config.upload_base_url or request.root_url).rstrip("/")
            query = urlencode({"upload_id": publish.upload_id, "upload_token": publish.upload_token})
            answer["upload_url"] = f"{base}/video/?{query}"
        return answer

    # --- upload --------------------------------------------------------------------------------

    def _content_range_header(self, publish: Publish) -> str:
        if self.config.content_range_style == "count":
            return f"bytes 0-{publish.received}/{publish.video_size}"
        if publish.received == 0:
            return f"bytes */{publish.video_size}"
        return f"bytes 0-{publish.received - 1}/{publish.video_size}"

    def on_upload(self, request: Request) -> Response:
        upload_id = request.args.get("upload_id", "")
        with self.lock:
            publish = self.publishes.get(self.uploads.get(upload_id, ""))
            if publish is None or not secrets.compare_digest(
                request.args.get("upload_token", ""), publish.upload_token or ""
            ):
                self._drain(request)
                return Response(b"", status=404)
            if self.clock.now() - publish.created_at > self.config.upload_url_ttl_seconds:
                self._drain(request)
                return Response(b"", status=403)
            if publish.status != "PROCESSING_UPLOAD" or publish.received >= publish.video_size or publish.busy:
                self._drain(request)
                return self._range_answer(publish, 416)
            first, last, total = _parse_content_range(request.headers.get("Content-Range"))
            declared = request.content_length
            bad = (
                first is None
                or total != publish.video_size
                or request.mimetype not in rules.UPLOAD_CONTENT_TYPES
                or declared is None
                or declared != last - first + 1
            )
            if bad:
                self._drain(request)
                return Response(b"", status=400)
            if first != publish.received:
                self._drain(request)
                return self._range_answer(publish, 416)
            index = first // publish.chunk_size
            expected_last = (
                publish.video_size - 1 if index == publish.total_chunk_count - 1 else first + publish.chunk_size - 1
            )
            if last != expected_last:
                self._drain(request)
                return Response(b"", status=400)
            publish.busy = True
            hasher = publish.hasher.copy()
            path = publish.path
        complete = False
        try:
            written = _stream_to_file(request, path or "", first, int(declared or 0), hasher)
            with self.lock:
                if written != declared:
                    return Response(b"", status=400)
                publish.hasher = hasher
                publish.received = last + 1
                publish.chunks.append({"first_byte": first, "last_byte": last, "at": self.clock.now()})
                complete = publish.received == publish.video_size
                if complete:
                    self.processing.after(
                        self.config.processing_delay_seconds, lambda: self._process(publish.publish_id)
                    )
                return self._range_answer(publish, 201 if complete else 206)
        finally:
            with self.lock:
                publish.busy = False

    def _range_answer(self, publish: Publish, status: int) -> Response:
        response = Response(b"", status=status)
        response.headers["Content-Range"] = self._content_range_header(publish)
        return response

    # --- processing ----------------------------------------------------------------------------

    def _pull(self, publish_id: str) -> None:
        """PULL_FROM_URL: download without following redirects (a 3xx counts as a failure)."""
        with self.lock:
            publish = self.publishes.get(publish_id)
            if publish is None or publish.status != "PROCESSING_DOWNLOAD":
                return
            handle, publish.path = tempfile.mkstemp(dir=self._files, suffix=".pull")
            os.close(handle)
            url, path = publish.video_url or "", publish.path
        try:
            with httpx.stream("GET", url, timeout=30.0, follow_redirects=False) as response, open(path, "wb") as out:
                if response.status_code != 200:
                    raise httpx.HTTPError(f"status {response.status_code}")
                for piece in response.iter_bytes():
                    out.write(piece)
                    with self.lock:
                        publish.downloaded_bytes += len(piece)
        except (httpx.HTTPError, OSError):
            with self.lock:
                if publish.status == "PROCESSING_DOWNLOAD":
                    self._fail(publish, "video_pull_failed")
            return
        with self.lock:
            publish.video_size = publish.received = publish.downloaded_bytes
        self._process(publish_id)

    def _process(self, publish_id: str) -> None:
        with self.lock:
            publish = self.publishes.get(publish_id)
            if publish is None or publish.status not in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
                return
            creator = self.creators[publish.open_id]
            path = publish.path or ""
        try:
            metadata = probe(FileSource(path))
            publish.metadata = metadata.__dict__ | {"mime_type": metadata.mime_type}
            max_duration = (
                self.config.inbox_max_duration_seconds
                if publish.mode == "inbox"
                else creator.max_video_post_duration_sec
            )
            reason = rules.media_fail_reason(
                metadata, max_duration=max_duration, min_duration=self.config.min_duration_seconds
            )
        except MediaProbeError as error:
            publish.metadata = {"problem": error.problem}
            reason = "file_format_check_failed"
        with self.lock:
            if publish.status not in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
                return  # revoked or cancelled meanwhile
            if reason:
                self._fail(publish, reason)
                return
            if publish.mode == "inbox":
                publish.status = "SEND_TO_USER_INBOX"
                self._emit(publish, "post.publish.inbox_delivered", {})
            else:
                self._complete(publish)

    def _complete(self, publish: Publish) -> None:
        publish.status = "PUBLISH_COMPLETE"
        publish.post_id = _big_id()
        self.published.append(
            {
                "open_id": publish.open_id,
                "publish_id": publish.publish_id,
                "post_id": str(publish.post_id),
                "mode": publish.mode,
                "privacy_level": publish.privacy_level,
                "title": publish.post_info.get("title"),
                "video_size": publish.video_size,
                "sha256": publish.hasher.hexdigest() if publish.source == "FILE_UPLOAD" else None,
                "published_at": self.clock.now(),
            }
        )
        self._emit(publish, "post.publish.complete", {})
        if publish.privacy_level == "PUBLIC_TO_EVERYONE":
            self.processing.after(self.config.moderation_delay_seconds, lambda: self._moderated(publish.publish_id))

    def _moderated(self, publish_id: str) -> None:
        with self.lock:
            publish = self.publishes.get(publish_id)
            if publish is None or publish.status != "PUBLISH_COMPLETE" or publish.post_id is None:
                return
            publish.public_post_ids.append(publish.post_id)
            self._emit(publish, "post.publish.publicly_available", {"post_id": str(publish.post_id)})

    def _fail(self, publish: Publish, reason: str) -> None:
        publish.status, publish.fail_reason = "FAILED", reason
        self._emit(publish, "post.publish.failed", {"reason": reason})

    def _emit(self, publish: Publish, event: str, extra: dict[str, Any]) -> None:
        publish_type = "INBOX_SHARE" if publish.mode == "inbox" else self.config.direct_publish_type
        content = {"publish_id": publish.publish_id, "publish_type": publish_type, **extra}
        self.webhooks.emit(self.config.client_key, event, publish.open_id, content)

    # --- status, cancel ------------------------------------------------------------------------

    def _owned_publish(self, request: Request, grant: Grant) -> Publish:
        body = self._json_object(request)
        publish_id = body.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise ApiError(400, "invalid_publish_id", "publish_id is required.")
        with self.lock:
            publish = self.publishes.get(publish_id)
        if publish is None:
            raise ApiError(400, "invalid_publish_id", "The publish_id does not exist.")
        if publish.open_id != grant.open_id:
            raise ApiError(
                400, "token_not_authorized_for_specified_publish_id", "The publish_id belongs to another user."
            )
        return publish

    def on_status(self, request: Request) -> Response:
        token, grant, _ = self._authenticate(request, ("video.publish", "video.upload"))
        self._rate_limit(token, "status")
        publish = self._owned_publish(request, grant)
        with self.lock:
            data: dict[str, Any] = {"status": publish.status}
            if publish.fail_reason:
                data["fail_reason"] = publish.fail_reason
            ids = list(publish.public_post_ids)
            if self.config.post_id_format == "scalar":
                data["publicaly_available_post_id"] = ids[0] if ids else None
            else:
                data["publicaly_available_post_id"] = ids
            if publish.source == "FILE_UPLOAD":
                data["uploaded_bytes"] = publish.received
            else:
                data["downloaded_bytes"] = publish.downloaded_bytes
        return self._ok(data)

    def on_cancel(self, request: Request) -> Response:
        token, grant, _ = self._authenticate(request, ("video.publish", "video.upload"))
        self._rate_limit(token, "cancel")
        publish = self._owned_publish(request, grant)
        with self.lock:
            if publish.source != "PULL_FROM_URL" or publish.status != "PROCESSING_DOWNLOAD":
                raise ApiError(400, "publish_not_cancellable", "The publish cannot be cancelled now.")
            self._fail(publish, "publish_cancelled")
        return self._ok({})

    def on_avatar(self, request: Request, name: str) -> Response:
        return Response(AVATAR_PNG, content_type="image/png")

    # --- control API ---------------------------------------------------------------------------

    def on_c_health(self, request: Request) -> Response:
        return self._json({"ok": True})

    def on_c_reset(self, request: Request) -> Response:
        self.reset()
        return self._json({"ok": True})

    def on_c_config(self, request: Request) -> Response:
        if request.method == "PATCH":
            changes = self._json_object(request)
            with self.lock:
                try:
                    self.config = self.config.updated(changes)
                except (ValueError, TypeError) as error:
                    raise ApiError(400, "invalid_params", str(error)) from None
        return self._json(self.config.to_dict())

    def on_c_faults(self, request: Request) -> Response:
        with self.lock:
            if request.method == "DELETE":
                self.faults.clear()
            elif request.method == "POST":
                spec = self._json_object(request)
                try:
                    fault = Fault(fault_id=secrets.token_hex(4), **spec)
                except TypeError as error:
                    raise ApiError(400, "invalid_params", str(error)) from None
                if fault.endpoint not in {str(rule.endpoint) for rule in self.url_map.iter_rules()}:
                    raise ApiError(400, "invalid_params", f"unknown endpoint {fault.endpoint}")
                self.faults.append(fault)
                return self._json(fault.to_dict(), 201)
            return self._json([f.to_dict() for f in self.faults])

    def on_c_clock(self, request: Request) -> Response:
        if request.method == "POST":
            seconds = self._json_object(request).get("advance_seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ApiError(400, "invalid_params", "advance_seconds must be a non-negative number")
            self.clock.advance(float(seconds))
        return self._json({"now": self.clock.now()})

    def on_c_creators(self, request: Request) -> Response:
        with self.lock:
            return self._json([c.to_dict() for c in self.creators.values()])

    def on_c_creator(self, request: Request, open_id: str) -> Response:
        changes = self._json_object(request)
        with self.lock:
            creator = self.creators.get(open_id)
            if creator is None:
                raise ApiError(404, "not_found", "No such creator.")
            allowed = set(creator.__dict__) - {"open_id"}
            if set(changes) - allowed:
                raise ApiError(400, "invalid_params", "unknown creator field(s)")
            for name, value in changes.items():
                setattr(creator, name, value)
            return self._json(creator.to_dict())

    def on_c_publishes(self, request: Request) -> Response:
        with self.lock:
            return self._json([p.to_dict() for p in self.publishes.values()])

    def on_c_publish(self, request: Request, publish_id: str) -> Response:
        with self.lock:
            publish = self.publishes.get(publish_id)
            if publish is None:
                raise ApiError(404, "not_found", "No such publish.")
            return self._json(publish.to_dict())

    def on_c_inbox_post(self, request: Request, publish_id: str) -> Response:
        """The creator opens the inbox notification and posts the draft in the TikTok app."""
        body = self._json_object(request)
        with self.lock:
            publish = self.publishes.get(publish_id)
            if publish is None or publish.mode != "inbox" or publish.status != "SEND_TO_USER_INBOX":
                raise ApiError(400, "invalid_params", "No draft waiting in the inbox for this publish.")
            publish.post_info = {"privacy_level": body.get("privacy_level", "SELF_ONLY")}
            self._complete(publish)
            return self._json(publish.to_dict())

    def on_c_published(self, request: Request) -> Response:
        """What was published, per creator, and how many times each video (by SHA-256) went up."""
        with self.lock:
            report: dict[str, Any] = {}
            for record in self.published:
                entry = report.setdefault(record["open_id"], {"count": 0, "posts": [], "by_sha256": {}})
                entry["count"] += 1
                entry["posts"].append(record)
                if record["sha256"]:
                    entry["by_sha256"][record["sha256"]] = entry["by_sha256"].get(record["sha256"], 0) + 1
            return self._json({"creators": report, "total": len(self.published)})

    def on_c_webhooks(self, request: Request) -> Response:
        return self._json(self.webhooks.snapshot())

    def on_c_idle(self, request: Request) -> Response:
        return self._json({"idle": self.idle()})


def _default_code(status: int) -> str:
    if status == 401:
        return "access_token_invalid"
    if status == 429:
        return "rate_limit_exceeded"
    if status >= 500:
        return "internal_error"
    return "invalid_params"


def _parse_content_range(header: str | None) -> tuple[Any, Any, Any]:
    """(first, last, total) of `bytes first-last/total`, or Nones when malformed."""
    if not header or not header.startswith("bytes "):
        return None, None, None
    try:
        span, total = header[6:].split("/")
        first, last = span.split("-")
        values = int(first), int(last), int(total)
    except ValueError:
        return None, None, None
    if values[0] < 0 or values[1] < values[0]:
        return None, None, None
    return values


def _stream_to_file(request: Request, path: str, offset: int, length: int, hasher: Any) -> int:
    """Copy the body to `path` at `offset` in 1 MiB pieces; returns the bytes received."""
    written = 0
    try:
        with open(path, "r+b") as out:
            out.seek(offset)
            while written < length:
                piece = request.stream.read(min(1 << 20, length - written))
                if not piece:
                    break
                out.write(piece)
                hasher.update(piece)
                written += len(piece)
    except ClientDisconnected:
        pass
    return written

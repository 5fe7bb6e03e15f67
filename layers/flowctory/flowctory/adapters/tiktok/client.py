"""The TikTok API client: OAuth v2, user info, creator info, video init, status, and chunked upload.

Built on httpx, imported on first use so that a handler importing this module pays nothing at
cold start. Every base URL is configuration (the simulator locally, TikTok in production). Every
failure becomes a typed error from `errors`; nothing here puts a token, a client secret or an
upload URL (which carries an upload token) into an exception, a log line or a repr.

Retries: reads (user info, creator info, status) are retried on transport errors and 5xx; chunk
PUTs are retried and resumed. Inits, token exchanges and refreshes are never retried here: an
init retried after a lost answer could create a second post, and a refresh retried under strict
rotation would spend a refresh token that was already rotated. Their callers decide.
"""

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from flowctory.adapters.tiktok import errors, oauth
from flowctory.domain.chunks import ChunkPlan
from flowctory.models.tiktok import CreatorInfo, PostInfo, PublishInit, PublishStatus, TokenGrant, UserInfo
from flowctory.observability import logger

if TYPE_CHECKING:
    import httpx

    from flowctory.settings import TikTokSettings

ModelT = TypeVar("ModelT", bound=BaseModel)
Sleep = Callable[[float], None]

TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 (a path, not a secret)
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
VIDEO_INIT_PATH = "/v2/post/publish/video/init/"
INBOX_VIDEO_INIT_PATH = "/v2/post/publish/inbox/video/init/"
STATUS_PATH = "/v2/post/publish/status/fetch/"
DEFAULT_USER_FIELDS = ("open_id", "union_id", "avatar_url", "display_name")
_JSON = {"Content-Type": "application/json; charset=UTF-8"}
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to min(cap, base * 2**n) seconds."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311 (jitter)


@dataclass
class UploadReport:
    """What an upload took: useful in logs and for tests that prove the retries happened."""

    chunks_sent: int = 0
    bytes_sent: int = 0
    retries: int = 0
    resumes: list[int] = field(default_factory=list)  # offsets TikTok told us to resume from


class UploadSourceError(ValueError):
    """The caller's byte stream does not match the plan (shorter or longer than `video_size`)."""


class TikTokClient:
    """One TikTok app (client key and secret) talking to one TikTok (real or simulated)."""

    def __init__(
        self,
        *,
        client_key: str,
        client_secret: str,
        api_base_url: str,
        auth_base_url: str,
        timeout: float = 30.0,
        upload_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        transport: "httpx.BaseTransport | None" = None,
    ) -> None:
        import httpx

        self._httpx = httpx
        self.client_key = client_key
        self._client_secret = SecretStr(client_secret)
        self.api_base_url = api_base_url.rstrip("/")
        self.auth_base_url = auth_base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._upload_timeout = httpx.Timeout(upload_timeout, connect=10.0)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "flowctory"},
        )
        # httpx logs every request URL at INFO; an upload URL carries an upload token.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)

    @classmethod
    def from_settings(cls, settings: "TikTokSettings", client_secret: str, **options: Any) -> "TikTokClient":
        """The client of the app `settings` describe (the secret is read from TIKTOK_SECRET_ARN by the caller)."""
        return cls(
            client_key=settings.TIKTOK_CLIENT_KEY,
            client_secret=client_secret,
            api_base_url=settings.TIKTOK_API_BASE_URL,
            auth_base_url=settings.TIKTOK_AUTH_BASE_URL,
            **options,
        )

    def __repr__(self) -> str:
        return f"TikTokClient(client_key={self.client_key!r}, api_base_url={self.api_base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "TikTokClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- OAuth ---------------------------------------------------------------------------------

    def authorize_url(
        self,
        *,
        redirect_uri: str,
        scopes: Iterable[str],
        state: str,
        code_verifier: str | None = None,
        challenge_encoding: oauth.ChallengeEncoding = "hex",
    ) -> str:
        """The URL of TikTok's consent page for this app (PKCE when `code_verifier` is given)."""
        return oauth.authorize_url(
            self.auth_base_url,
            client_key=self.client_key,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_verifier=code_verifier,
            challenge_encoding=challenge_encoding,
        )

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None = None) -> TokenGrant:
        """Trade the callback's `code` for tokens.

        Raises:
            TikTokReconnectRequired: the code was used, expired, or the verifier does not match.
            TikTokError: any other failure, typed.
        """
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return self._token_call(form)

    def refresh(self, refresh_token: str | SecretStr) -> TokenGrant:
        """New tokens; the returned refresh token replaces the one passed (it may have rotated).

        Raises:
            TikTokReconnectRequired: the refresh token is expired, revoked or already rotated out.
            TikTokError: any other failure, typed.
        """
        return self._token_call({"grant_type": "refresh_token", "refresh_token": _reveal(refresh_token)})

    def revoke(self, access_token: str | SecretStr) -> None:
        """Revoke the creator's grant (access and refresh token)."""
        form = {**self._credentials(), "token": _reveal(access_token)}
        response = self._send("POST", self.api_base_url + REVOKE_PATH, endpoint="revoke", data=form)
        if response.content.strip():
            self._oauth_body(response, "revoke")
        elif response.status_code >= 400:
            raise _logged(_status_error(response, "revoke"), "revoke")

    def _token_call(self, form: dict[str, str]) -> TokenGrant:
        endpoint = form["grant_type"]
        response = self._send(
            "POST", self.api_base_url + TOKEN_PATH, endpoint=endpoint, data={**self._credentials(), **form}
        )
        body = self._oauth_body(response, endpoint)
        return _parse(TokenGrant, body, endpoint, response)

    def _credentials(self) -> dict[str, str]:
        return {"client_key": self.client_key, "client_secret": self._client_secret.get_secret_value()}

    def _oauth_body(self, response: "httpx.Response", endpoint: str) -> dict[str, Any]:
        """The body of an OAuth answer; checks for an `error` key whatever the HTTP status."""
        body = _json_object(response, endpoint)
        error = body.get("error")
        if isinstance(error, dict):  # the v2 envelope, which TikTok also uses on some OAuth failures
            return _envelope_data(body, response, endpoint, require_data=False)
        if error:
            log_id = _log_id(body, response)
            description = body.get("error_description")
            raise _logged(
                errors.error_for_code(
                    str(error),
                    http_status=response.status_code,
                    log_id=log_id,
                    detail=description if isinstance(description, str) else None,
                ),
                endpoint,
            )
        if response.status_code >= 400:
            raise _logged(_status_error(response, endpoint), endpoint)
        return body

    # --- Resource APIs -------------------------------------------------------------------------

    def user_info(self, access_token: str | SecretStr, fields: Iterable[str] = DEFAULT_USER_FIELDS) -> UserInfo:
        """The creator's profile: only `fields` (each needs its scope)."""
        data = self._api(
            "GET",
            USER_INFO_PATH,
            access_token,
            endpoint="user_info",
            params={"fields": ",".join(fields)},
            idempotent=True,
        )
        user = data.get("user")
        if not isinstance(user, dict):
            raise _bad_shape("user_info", None)
        return _parse(UserInfo, user, "user_info", None)

    def creator_info(self, access_token: str | SecretStr) -> CreatorInfo:
        """What the creator may post now (privacy options, disabled interactions, max duration).

        Raises:
            TikTokCannotPostNow: TikTok says the creator cannot post now (returned with HTTP 200).
        """
        data = self._api("POST", CREATOR_INFO_PATH, access_token, endpoint="creator_info", idempotent=True)
        return _parse(CreatorInfo, data, "creator_info", None)

    def init_direct_post(self, access_token: str | SecretStr, post_info: PostInfo, plan: ChunkPlan) -> PublishInit:
        """Start a Direct Post with FILE_UPLOAD; store the publish_id before sending a byte. Never retried."""
        body = {"post_info": post_info.to_api(), "source_info": plan.source_info()}
        data = self._api("POST", VIDEO_INIT_PATH, access_token, endpoint="video_init", json_body=body)
        return self._publish_init(data, "video_init")

    def init_inbox_upload(self, access_token: str | SecretStr, plan: ChunkPlan) -> PublishInit:
        """Send a video to the creator's TikTok inbox as a draft (they finish it in the app). Never retried."""
        body = {"source_info": plan.source_info()}
        data = self._api("POST", INBOX_VIDEO_INIT_PATH, access_token, endpoint="inbox_init", json_body=body)
        return self._publish_init(data, "inbox_init")

    def _publish_init(self, data: dict[str, Any], endpoint: str) -> PublishInit:
        init = _parse(PublishInit, data, endpoint, None)
        if init.upload_url is None:
            raise _bad_shape(endpoint, None)
        return init

    def fetch_status(self, access_token: str | SecretStr, publish_id: str) -> PublishStatus:
        """Where TikTok is with a publish. FAILED comes back as a status, not as an error."""
        data = self._api(
            "POST",
            STATUS_PATH,
            access_token,
            endpoint="status",
            json_body={"publish_id": publish_id},
            idempotent=True,
        )
        return _parse(PublishStatus, data, "status", None)

    def _api(
        self,
        method: str,
        path: str,
        access_token: str | SecretStr,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {_reveal(access_token)}", **_JSON}
        attempts = self.retry.attempts if idempotent else 1
        for attempt in range(attempts):
            try:
                response = self._send(
                    method,
                    self.api_base_url + path,
                    endpoint=endpoint,
                    headers=headers,
                    params=params,
                    json=json_body if method != "GET" else None,
                )
                return _envelope_data(_json_object(response, endpoint), response, endpoint)
            except errors.TikTokUnavailable as error:
                if attempt + 1 >= attempts:
                    raise _logged(error, endpoint) from None
                self._backoff(endpoint, attempt)
            except errors.TikTokError as error:
                raise _logged(error, endpoint) from None
        raise AssertionError("unreachable")

    # --- Upload --------------------------------------------------------------------------------

    def upload(
        self,
        upload_url: str | SecretStr,
        plan: ChunkPlan,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        rewind: Callable[[int], Iterable[bytes]] | None = None,
    ) -> UploadReport:
        """PUT the video to `upload_url` chunk by chunk, as `plan` cuts it.

        `chunks` yields the video's bytes in pieces of any size (e.g. an S3 body); at most one plan
        chunk is held in memory. A failed chunk is retried with backoff; on 416 the upload resumes
        from the offset TikTok reports (skipping ahead in `chunks`, or calling `rewind(offset)` for
        a fresh stream from that offset when TikTok needs bytes already passed).

        Raises:
            TikTokUploadExpired: the URL is older than TikTok's hour.
            TikTokUploadError: TikTok refused a chunk for good.
            TikTokUnavailable: TikTok kept failing after every retry.
            UploadSourceError: `chunks` is shorter or longer than the plan's video size.
        """
        url = _reveal(upload_url)
        report = UploadReport()
        source = _ChunkSource(chunks, plan.video_size, rewind)
        index, held, held_index = 0, b"", -1
        while index < plan.total_chunk_count:
            chunk = plan.range(index)
            if held_index != index:
                held = b""  # drop the previous chunk before reading the next: one chunk in memory
                held = source.take(chunk.first_byte, chunk.size, last=index == plan.total_chunk_count - 1)
                held_index = index
            offset = self._put_chunk(url, plan, index, held, content_type, report)
            if offset is None:
                report.chunks_sent += 1
                report.bytes_sent += len(held)
                index += 1
                continue
            report.resumes.append(offset)
            if len(report.resumes) > plan.total_chunk_count + self.retry.attempts:
                raise _logged(
                    errors.TikTokUploadError(
                        "TikTok lost track of the upload. Please try again.",
                        http_status=416,
                        detail="too many resumes without progress",
                    ),
                    "upload",
                )
            if offset >= plan.video_size:
                break  # TikTok already has everything (the last answer was lost)
            resumed = plan.index_at(offset)
            if resumed is None:
                raise _logged(
                    errors.TikTokUploadError(
                        "TikTok lost track of the upload. Please try again.",
                        http_status=416,
                        detail=f"resume offset {offset} is not a chunk boundary",
                    ),
                    "upload",
                )
            index = resumed
        return report

    def _put_chunk(
        self, url: str, plan: ChunkPlan, index: int, data: bytes, content_type: str, report: UploadReport
    ) -> int | None:
        """PUT one chunk with retries. None when accepted, else the offset TikTok says to resume from."""
        chunk = plan.range(index)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "Content-Range": chunk.content_range(plan.video_size),
        }
        for attempt in range(self.retry.attempts):
            body = _OneShotBody(data)
            try:
                response = self._send(
                    "PUT", url, endpoint="upload", headers=headers, content=body, timeout=self._upload_timeout
                )
            except errors.TikTokUnavailable:
                if attempt + 1 >= self.retry.attempts:
                    raise
                report.retries += 1
                self._backoff("upload", attempt, chunk=index)
                continue
            finally:
                body.release()
            status = response.status_code
            logger.debug("tiktok chunk answered", chunk=index, status=status, attempt=attempt)
            if status in (200, 201, 206):
                return None
            if status == 416:
                return _resume_offset(response.headers.get("Content-Range"), plan)
            if status == 403:
                raise _logged(
                    errors.TikTokUploadExpired(
                        "The upload to TikTok took too long and expired. We will start it again.",
                        http_status=status,
                        log_id=_log_id({}, response),
                    ),
                    "upload",
                )
            if status == 429 or status >= 500:
                if attempt + 1 >= self.retry.attempts:
                    raise _logged(_status_error(response, "upload"), "upload")
                report.retries += 1
                self._backoff("upload", attempt, chunk=index)
                continue
            raise _logged(
                errors.TikTokUploadError(
                    "TikTok refused part of the video upload.",
                    http_status=status,
                    log_id=_log_id({}, response),
                    detail=f"chunk {index} answered {status}",
                ),
                "upload",
            )
        raise AssertionError("unreachable")

    # --- Transport -----------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, endpoint: str, **kwargs: Any) -> "httpx.Response":
        """One HTTP exchange; transport failures become TikTokConnectionError (with no URL in it)."""
        httpx = self._httpx
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as error:
            failure = errors.TikTokConnectionError(
                "TikTok did not answer in time. We will try again.", detail=type(error).__name__
            )
        except httpx.TransportError as error:
            failure = errors.TikTokConnectionError(
                "TikTok could not be reached. We will try again.", detail=type(error).__name__
            )
        raise _logged(failure, endpoint) from None

    def _backoff(self, endpoint: str, attempt: int, **keys: Any) -> None:
        delay = self.retry.delay(attempt)
        logger.info("tiktok call retried", endpoint=endpoint, attempt=attempt + 1, delay=round(delay, 3), **keys)
        self._sleep(delay)


class _OneShotBody:
    """A chunk's body that lets go of the bytes once sent.

    httpx's Request and Response point at each other, so they linger until the cycle collector
    runs, and with them any bytes given as `content`. Handing httpx this wrapper instead, and
    emptying it after the exchange, keeps memory at one chunk however many chunks go up.
    """

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __iter__(self) -> Iterator[bytes]:
        if self._data is not None:
            yield self._data

    def release(self) -> None:
        self._data = None


class _ChunkSource:
    """Cuts the caller's pieces of any size into plan chunks, holding at most one chunk."""

    def __init__(self, pieces: Iterable[bytes], total: int, rewind: Callable[[int], Iterable[bytes]] | None) -> None:
        self._pieces: Iterator[bytes] = iter(pieces)
        self._total = total
        self._rewind = rewind
        self._position = 0  # offset in the video of the first byte of `_pending`
        self._pending = b""

    def take(self, first: int, size: int, *, last: bool) -> bytes:
        if first < self._position:
            if self._rewind is None:
                raise errors.TikTokUploadError(
                    "TikTok lost part of the upload. Please try again.",
                    http_status=416,
                    detail=f"TikTok asked for offset {first}, already streamed past",
                )
            self._pieces, self._position, self._pending = iter(self._rewind(first)), first, b""
        self._skip(first - self._position)
        buffer = bytearray(size)
        filled = 0
        while filled < size:
            piece = self._pending or self._next()
            self._pending = b""
            taken = min(len(piece), size - filled)
            buffer[filled : filled + taken] = piece[:taken]
            if taken < len(piece):
                self._pending = piece[taken:]
            filled += taken
        self._position = first + size
        if last and (self._pending or self._next(required=False)):
            raise UploadSourceError("the byte stream is longer than the video size given to TikTok")
        return bytes(buffer)

    def _skip(self, count: int) -> None:
        """Drop `count` bytes TikTok already has (it told us so with a 416)."""
        while count > 0:
            piece = self._pending or self._next()
            dropped = min(count, len(piece))
            self._pending = piece[dropped:]
            self._position += dropped
            count -= dropped

    def _next(self, *, required: bool = True) -> bytes:
        for piece in self._pieces:
            if piece:
                return bytes(piece)
        if required:
            raise UploadSourceError("the byte stream ended before the video size given to TikTok")
        return b""


# --- Parsing helpers ---------------------------------------------------------------------------


def _logged(error: errors.TikTokError, endpoint: str) -> errors.TikTokError:
    """Log a failure with its class, codes and log_id (never a token or URL), and hand it back."""
    logger.warning(
        "tiktok call failed",
        endpoint=endpoint,
        error=type(error).__name__,
        tiktok_code=error.tiktok_code,
        http_status=error.http_status,
        log_id=error.log_id,
        retryable=error.retryable,
    )
    return error


def _reveal(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _log_id(body: Mapping[str, Any], response: "httpx.Response | None") -> str | None:
    error = body.get("error")
    for candidate in (error.get("log_id") if isinstance(error, dict) else None, body.get("log_id")):
        if isinstance(candidate, str) and candidate:
            return candidate
    if response is not None:
        header = response.headers.get("x-tt-logid")
        if header:
            return str(header)
    return None


def _status_error(response: "httpx.Response", endpoint: str) -> errors.TikTokError:
    return errors.error_for_code(
        f"http_{response.status_code}", http_status=response.status_code, log_id=_log_id({}, response)
    )


def _bad_shape(endpoint: str, response: "httpx.Response | None", detail: str | None = None) -> errors.TikTokError:
    return errors.TikTokBadResponse(
        "TikTok answered in a way Flowctory does not understand. We have been alerted.",
        http_status=response.status_code if response is not None else None,
        log_id=_log_id({}, response) if response is not None else None,
        retryable=False,
        detail=detail or f"unexpected {endpoint} response",
    )


def _json_object(response: "httpx.Response", endpoint: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        if response.status_code >= 500:
            raise _status_error(response, endpoint) from None
        raise errors.TikTokBadResponse(
            "TikTok answered with something other than JSON. We will try again.",
            http_status=response.status_code,
            log_id=_log_id({}, response),
            retryable=True,  # a proxy's HTML page or a cut body: usually transient
            detail=f"non-JSON {endpoint} response",
        ) from None
    if not isinstance(body, dict):
        raise _bad_shape(endpoint, response)
    return body


def _envelope_data(
    body: dict[str, Any], response: "httpx.Response", endpoint: str, *, require_data: bool = True
) -> dict[str, Any]:
    """`data` of a {"data", "error"} envelope when error.code is "ok"; the typed error otherwise."""
    error = body.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        if response.status_code >= 400:
            raise _status_error(response, endpoint)
        raise _bad_shape(endpoint, response, "no error.code in the envelope")
    code = error["code"]
    if code != "ok":
        message = error.get("message")
        raise errors.error_for_code(
            code,
            http_status=response.status_code,
            log_id=_log_id(body, response),
            detail=message if isinstance(message, str) else None,
        )
    if response.status_code >= 400:
        raise _status_error(response, endpoint)
    data = body.get("data", {})
    if not isinstance(data, dict) or (require_data and "data" not in body):
        raise _bad_shape(endpoint, response, "no data object")
    return data


def _parse(model: type[ModelT], data: Mapping[str, Any], endpoint: str, response: "httpx.Response | None") -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = ",".join(".".join(map(str, problem["loc"])) for problem in error.errors())
        raise _logged(_bad_shape(endpoint, response, f"invalid fields: {fields}"), endpoint) from None


def _resume_offset(header: str | None, plan: ChunkPlan) -> int:
    """The offset to resume from, read from a 416's `Content-Range: bytes 0-N/TOTAL`.

    TikTok's docs write N as "uploaded bytes", HTTP reads it as the last byte received (one
    less). Both readings are accepted: the one that lands on a chunk boundary (or the end) wins.
    """
    match = _CONTENT_RANGE.match(header or "")
    if not match:
        raise errors.TikTokUploadError(
            "TikTok lost track of the upload. Please try again.",
            http_status=416,
            detail="416 without a readable Content-Range",
        )
    if match.group(2) is None:
        return 0  # "bytes */TOTAL": nothing received
    end = int(match.group(2))
    for offset in (end + 1, end):
        if offset >= plan.video_size or plan.index_at(offset) is not None:
            return min(offset, plan.video_size)
    return end + 1

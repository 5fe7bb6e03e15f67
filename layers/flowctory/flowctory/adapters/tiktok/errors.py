"""One typed error per way a TikTok call can fail, each with what a caller needs to decide.

Every error carries `retryable` (can the same operation succeed later without the creator doing
anything?), TikTok's `log_id` (quote it to TikTok support), TikTok's own `tiktok_code`, and a
`message` a creator understands. `message` comes from the tables below, never from TikTok's body:
upstream text goes to `detail`, and no token or URL ever goes into either.

The classes also subclass the matching flowctory.errors kind, so flowctory.http maps them to an
HTTP status like any other domain error.
"""

from flowctory import errors


class TikTokError(errors.AppError):
    """Base of every TikTok failure."""

    code = "tiktok_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        tiktok_code: str | None = None,
        log_id: str | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tiktok_code = tiktok_code
        self.log_id = log_id
        self.http_status = http_status
        self.detail = detail
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tiktok_code={self.tiktok_code!r}, http_status={self.http_status!r}, "
            f"log_id={self.log_id!r}, retryable={self.retryable!r})"
        )


class TikTokUnavailable(TikTokError, errors.UpstreamError):
    """TikTok could not be reached or failed on its side: try again later."""

    code = "tiktok_unavailable"
    retryable = True


class TikTokConnectionError(TikTokUnavailable):
    """No answer: connection refused or reset, DNS failure, or a timeout."""


class TikTokServerError(TikTokUnavailable):
    """TikTok answered with a 5xx, `internal_error`, `server_error` or `temporarily_unavailable`."""


class TikTokBadResponse(TikTokError, errors.UpstreamError):
    """TikTok's answer was not JSON, or not the shape its documentation gives."""

    code = "tiktok_bad_response"


class TikTokRateLimited(TikTokError, errors.RateLimited):
    """Over a per-token rate limit (429 `rate_limit_exceeded`); the window is one minute."""

    code = "tiktok_rate_limited"
    retryable = True


class TikTokTokenInvalid(TikTokError, errors.InvalidState):
    """The access token expired or is invalid: refresh it, then the call can be made again."""

    code = "tiktok_token_invalid"
    retryable = True


class TikTokReconnectRequired(TikTokError, errors.InvalidState):
    """The grant is gone (used or expired code, revoked or rotated-out refresh token): reconnect."""

    code = "tiktok_reconnect_required"


class TikTokScopeMissing(TikTokError, errors.InvalidState):
    """The creator did not grant a permission this call needs."""

    code = "tiktok_scope_missing"


class TikTokClientMisconfigured(TikTokError, errors.UpstreamError):
    """TikTok refused our app itself (client key or secret, redirect URI, grant type): a bug of ours."""

    code = "tiktok_client_misconfigured"


class TikTokInvalidRequest(TikTokError, errors.UpstreamError):
    """TikTok rejected a field of the request (`invalid_params` and kin)."""

    code = "tiktok_invalid_request"


class TikTokCannotPostNow(TikTokError, errors.InvalidState):
    """The creator (or our app) may not post now: daily caps, a ban, too many pending drafts."""

    code = "tiktok_cannot_post_now"


class TikTokPrivacyMismatch(TikTokError, errors.InvalidState):
    """The privacy level is not one of the creator's current options."""

    code = "tiktok_privacy_mismatch"


class TikTokUnauditedClient(TikTokError, errors.InvalidState):
    """An app not yet audited by TikTok may only post privately to private accounts."""

    code = "tiktok_unaudited_client"


class TikTokUrlUnverified(TikTokError, errors.UpstreamError):
    """PULL_FROM_URL from a domain not verified in TikTok's developer portal."""

    code = "tiktok_url_unverified"


class TikTokUploadError(TikTokError, errors.UpstreamError):
    """TikTok refused a chunk PUT for good (bad headers, no upload task, an offset we cannot reach)."""

    code = "tiktok_upload_failed"


class TikTokUploadExpired(TikTokUploadError):
    """The upload URL is older than TikTok's hour: start again with a new init."""

    code = "tiktok_upload_expired"
    retryable = True


class TikTokPublishFailed(TikTokError, errors.UpstreamError):
    """TikTok took the upload but its processing failed (status FAILED, `fail_reason`)."""

    code = "tiktok_publish_failed"


class TikTokUnknownError(TikTokError, errors.UpstreamError):
    """An error code this client does not know."""

    code = "tiktok_error"


_RECONNECT = "Your TikTok connection has expired or was removed. Please reconnect your TikTok account."
_OUR_SIDE = "Flowctory could not complete the request to TikTok because of a problem on our side; we have been alerted."
_TRY_LATER = "TikTok had a temporary problem. We will try again shortly."
_SCOPE = (
    "Flowctory is missing a TikTok permission it needs. Reconnect your TikTok account and allow every permission asked."
)

# TikTok error code -> (error class, retryable, message for the creator).
ERROR_CODES: dict[str, tuple[type[TikTokError], bool, str]] = {
    # v2 resource APIs (error.code in the data/error envelope)
    "access_token_invalid": (TikTokTokenInvalid, True, "Your TikTok sign-in has expired; it is being renewed."),
    "scope_not_authorized": (TikTokScopeMissing, False, _SCOPE),
    "scope_permission_missed": (TikTokScopeMissing, False, _SCOPE),
    "invalid_params": (TikTokInvalidRequest, False, "TikTok rejected the request as invalid."),
    "invalid_param": (TikTokInvalidRequest, False, "TikTok rejected the request as invalid."),
    "invalid_file_upload": (
        TikTokInvalidRequest,
        False,
        "TikTok did not accept the video file. Use an MP4, MOV or WebM video within TikTok's limits.",
    ),
    "rate_limit_exceeded": (
        TikTokRateLimited,
        True,
        "TikTok is receiving too many requests for this account right now. We will try again in a minute.",
    ),
    "internal_error": (TikTokServerError, True, _TRY_LATER),
    "spam_risk_too_many_posts": (
        TikTokCannotPostNow,
        False,
        "TikTok limits how many posts an account can make per day; try again tomorrow.",
    ),
    "spam_risk_user_banned_from_posting": (
        TikTokCannotPostNow,
        False,
        "TikTok does not allow this account to post right now. Check the TikTok app for details.",
    ),
    "reached_active_user_cap": (
        TikTokCannotPostNow,
        False,
        "TikTok limits how many accounts can post through Flowctory each day, and today's limit is reached; "
        "try again tomorrow.",
    ),
    "spam_risk_too_many_pending_share": (
        TikTokCannotPostNow,
        False,
        "Too many videos are waiting in your TikTok inbox. Post or delete some in the TikTok app, then try again.",
    ),
    "unaudited_client_can_only_post_to_private_accounts": (
        TikTokUnauditedClient,
        False,
        "Until TikTok has reviewed Flowctory, it can only post to private TikTok accounts, visible to you only. "
        "Make your account private and choose 'Only me'.",
    ),
    "url_ownership_unverified": (TikTokUrlUnverified, False, _OUR_SIDE),
    "privacy_level_option_mismatch": (
        TikTokPrivacyMismatch,
        False,
        "Your TikTok account no longer offers the audience you chose. Please choose who can see the video again.",
    ),
    "invalid_publish_id": (TikTokInvalidRequest, False, "TikTok does not know this post."),
    "token_not_authorized_for_specified_publish_id": (
        TikTokInvalidRequest,
        False,
        "This post belongs to another TikTok account.",
    ),
    "publish_not_cancellable": (
        TikTokInvalidRequest,
        False,
        "TikTok is already processing this video, so it can no longer be cancelled.",
    ),
    "app_version_check_failed": (
        TikTokInvalidRequest,
        False,
        "Please update the TikTok app to version 31.8 or later, then try again.",
    ),
    # OAuth endpoints (flat {"error", "error_description", "log_id"})
    "invalid_grant": (TikTokReconnectRequired, False, _RECONNECT),
    "access_denied": (TikTokReconnectRequired, False, "TikTok access was not granted. Please connect again."),
    "invalid_scope": (TikTokScopeMissing, False, _SCOPE),
    "invalid_client": (TikTokClientMisconfigured, False, _OUR_SIDE),
    "invalid_request": (TikTokClientMisconfigured, False, _OUR_SIDE),
    "unauthorized_client": (TikTokClientMisconfigured, False, _OUR_SIDE),
    "unsupported_grant_type": (TikTokClientMisconfigured, False, _OUR_SIDE),
    "unsupported_response_type": (TikTokClientMisconfigured, False, _OUR_SIDE),
    "server_error": (TikTokServerError, True, _TRY_LATER),
    "temporarily_unavailable": (TikTokServerError, True, _TRY_LATER),
}

# Status fetch `fail_reason` (and the `reason` of post.publish.failed) -> (retryable, message).
FAIL_REASONS: dict[str, tuple[bool, str]] = {
    "file_format_check_failed": (False, "TikTok could not read this video's format. Use an MP4, MOV or WebM file."),
    "duration_check_failed": (False, "The video is longer (or shorter) than TikTok allows for this account."),
    "frame_rate_check_failed": (False, "TikTok accepts videos of 23 to 60 frames per second only."),
    "picture_size_check_failed": (False, "TikTok accepts videos whose sides are 360 to 4096 pixels only."),
    "internal": (True, _TRY_LATER),
    "video_pull_failed": (True, "TikTok could not download the video in time. We will try again."),
    "photo_pull_failed": (True, "TikTok could not download the photos in time. We will try again."),
    "publish_cancelled": (False, "The post was cancelled."),
    "auth_removed": (False, _RECONNECT),
    "spam_risk_too_many_posts": (False, ERROR_CODES["spam_risk_too_many_posts"][2]),
    "spam_risk_user_banned_from_posting": (False, ERROR_CODES["spam_risk_user_banned_from_posting"][2]),
    "spam_risk_text": (False, "TikTok flagged the caption as risky. Please edit the caption and try again."),
    "spam_risk": (False, "TikTok refused this post as risky."),
}


def error_for_code(
    tiktok_code: str,
    *,
    http_status: int | None = None,
    log_id: str | None = None,
    detail: str | None = None,
) -> TikTokError:
    """The typed error for a TikTok error code (unknown codes fall back on the HTTP status)."""
    known = ERROR_CODES.get(tiktok_code)
    if known:
        cls, retryable, message = known
    elif http_status == 429:
        cls, retryable, message = ERROR_CODES["rate_limit_exceeded"]
    elif http_status is not None and http_status >= 500:
        cls, retryable, message = TikTokServerError, True, _TRY_LATER
    elif http_status == 401:
        cls, retryable, message = ERROR_CODES["access_token_invalid"]
    else:
        cls, retryable, message = TikTokUnknownError, False, "TikTok refused the request."
    return cls(
        message, tiktok_code=tiktok_code, log_id=log_id, http_status=http_status, retryable=retryable, detail=detail
    )


def publish_failure(fail_reason: str | None, *, publish_id: str | None = None) -> TikTokPublishFailed:
    """The error for a publish TikTok reports as FAILED, with the creator's message for its reason."""
    retryable, message = FAIL_REASONS.get(fail_reason or "", (False, "TikTok could not publish the video."))
    return TikTokPublishFailed(message, tiktok_code=fail_reason, retryable=retryable, detail=publish_id)

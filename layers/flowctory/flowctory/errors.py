"""Domain errors. They know nothing of HTTP: flowctory.http maps each kind to a status code.

`message` is shown to the client, so it must be safe and useful to a creator; details that are
not (ids of other users, upstream bodies, secrets) go to the log, never into `message`.
"""


class AppError(Exception):
    """Base of every error the API reports to its caller."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(AppError):
    code = "bad_request"


class Unauthenticated(AppError):
    code = "unauthenticated"


class Forbidden(AppError):
    code = "forbidden"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class InvalidState(AppError):
    """The request is well formed but the resource's state does not allow it."""

    code = "invalid_state"


class ValidationFailed(InvalidState):
    """Domain rules refused some fields; `fields` maps each field path to what is wrong with it."""

    code = "validation_error"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("Some fields are missing or invalid: " + ", ".join(fields) + ".")
        self.fields = fields


class RateLimited(AppError):
    code = "rate_limited"


class UpstreamError(AppError):
    """A provider (TikTok, Stripe, Google, Facebook) failed or answered something unusable."""

    code = "upstream_error"


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured (a missing setting or secret). A bug, not a client error."""


class UndecryptableSecret(Exception):
    """A sealed secret does not decrypt under its context: moved to another item, tampered, or the key is gone."""

"""Typed settings read from the environment variables that template.yaml gives each function.

Field names are the environment variable names, so a contract test can check that the template
provides every required one. Settings are loaded on first use and cached, never at import.
"""

import os
from functools import lru_cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from flowctory.errors import ConfigurationError


class SettingsGroup(BaseModel):
    """Base of every settings model. Built on first use: a function validates one settings model,
    and building all of them at import would cost every cold start tens of milliseconds."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class CommonSettings(SettingsGroup):
    """What every function needs (template Globals)."""

    POWERTOOLS_SERVICE_NAME: str = Field(min_length=1)
    STAGE: str = Field(min_length=1)
    TABLE_NAME: str = Field(min_length=1)
    WEB_ORIGIN: str = Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$")
    # Plans and limits as JSON (flowctory.plans); blank: the built-in defaults. In Globals, so that
    # every function enforces the same limits.
    PLANS_JSON: str = ""

    @property
    def is_local(self) -> bool:
        """True when served over plain http (the sandbox): cookies then drop Secure and prefixes."""
        return self.WEB_ORIGIN.startswith("http://")


class MediaSettings(SettingsGroup):
    """The media bucket and how long a video may stay in it."""

    MEDIA_BUCKET: str = Field(min_length=1)
    VIDEO_RETENTION_HOURS: PositiveInt = Field(default=24, le=24)


class SchedulerSettings(SettingsGroup):
    """Where one-time post schedules go and what they invoke."""

    SCHEDULE_GROUP: str = Field(min_length=1)
    SCHEDULER_ROLE_ARN: str = Field(min_length=1)
    UPLOAD_FUNCTION_ARN: str = Field(min_length=1)
    DEAD_LETTER_QUEUE_ARN: str = Field(min_length=1)


class TikTokSettings(SettingsGroup):
    """The TikTok app; base URLs are overridden only by the sandbox (simulator)."""

    TIKTOK_CLIENT_KEY: str = ""
    TIKTOK_SECRET_ARN: str = Field(min_length=1)
    TIKTOK_API_BASE_URL: str = "https://open.tiktokapis.com"
    TIKTOK_AUTH_BASE_URL: str = "https://www.tiktok.com"


class StripeSettings(SettingsGroup):
    """Stripe keys (a secret holding {"api_key", "webhook_secret"}; blank api_key: billing off) and API base."""

    STRIPE_SECRET_ARN: str = Field(min_length=1)
    STRIPE_API_BASE: str = Field(default="https://api.stripe.com", pattern=r"^https?://[^/?#]+$")


class SessionSettings(CommonSettings):
    """What verifying a signed-in user's session needs (every HTTP function that serves users)."""

    SESSION_SECRET_ARN: str = Field(min_length=1)


class AuthSettings(SessionSettings):
    GOOGLE_CLIENT_ID: str = ""
    GOOGLE_SECRET_ARN: str = Field(min_length=1)
    GOOGLE_DISCOVERY_URL: str = "https://accounts.google.com/.well-known/openid-configuration"
    FACEBOOK_APP_ID: str = ""
    FACEBOOK_SECRET_ARN: str = Field(min_length=1)
    FACEBOOK_AUTHORIZE_URL: str = "https://www.facebook.com/v21.0/dialog/oauth"
    FACEBOOK_GRAPH_URL: str = "https://graph.facebook.com/v21.0"
    MAIL_FROM: str = Field(min_length=3)
    # The privacy policy version users accept at sign-up (its "last updated" date); raising it flags
    # every user who accepted an older one (promise P34).
    POLICY_VERSION: str = Field(default="2026-01-04", min_length=1)
    # The purge function, started at once (asynchronously) when a user deletes their account; blank:
    # its next sweep (every 15 minutes) does the erasure.
    PURGE_FUNCTION_ARN: str = ""


class TikTokOAuthSettings(CommonSettings, TikTokSettings):
    SESSION_SECRET_ARN: str = Field(min_length=1)
    KMS_KEY_ID: str = Field(min_length=1)
    SCHEDULE_GROUP: str = Field(min_length=1)


class ScheduleSettings(CommonSettings, MediaSettings, SchedulerSettings, TikTokSettings):
    SESSION_SECRET_ARN: str = Field(min_length=1)
    KMS_KEY_ID: str = Field(min_length=1)


class UploadSettings(CommonSettings, MediaSettings, SchedulerSettings, TikTokSettings):
    KMS_KEY_ID: str = Field(min_length=1)


class WebhooksSettings(CommonSettings, MediaSettings, SchedulerSettings, TikTokSettings, StripeSettings):
    """Stripe and TikTok webhooks (a publish TikTok completes deletes its video at once)."""


class BillingSettings(SessionSettings, StripeSettings):
    """Checkout, Portal, plans and the signed-in user's subscription."""


class PurgeSettings(CommonSettings, MediaSettings, SchedulerSettings, TikTokSettings, StripeSettings):
    KMS_KEY_ID: str = Field(min_length=1)
    MAIL_FROM: str = Field(min_length=3)  # the erasure confirmation


SettingsT = TypeVar("SettingsT", bound=BaseModel)


@lru_cache
def load_settings(model: type[SettingsT]) -> SettingsT:
    """Read `model` from the environment once.

    Raises:
        ConfigurationError: naming each missing or invalid variable (never its value).
    """
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:
        problems = ", ".join(f"{'.'.join(map(str, e['loc']))} ({e['msg']})" for e in error.errors())
        raise ConfigurationError(f"missing or invalid environment variable(s): {problems}") from None

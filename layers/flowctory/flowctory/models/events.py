"""Payloads of asynchronous invocations (the `Input` of EventBridge Scheduler schedules)."""

from pydantic import ConfigDict, Field

from flowctory.models.base import Model


class PublishPostEvent(Model):
    """What a post's one-time schedule passes to the upload function."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    post_id: str = Field(min_length=1)

"""Settings fail at first use with an error naming the variable, never at import and never with its value."""

import pytest

from flowctory.errors import ConfigurationError
from flowctory.settings import PurgeSettings, load_settings

COMPLETE = {
    "POWERTOOLS_SERVICE_NAME": "purge",
    "STAGE": "dev",
    "TABLE_NAME": "table",
    "WEB_ORIGIN": "http://localhost:3000",
    "MEDIA_BUCKET": "bucket",
    "TIKTOK_SECRET_ARN": "arn:tiktok",
    "STRIPE_SECRET_ARN": "arn:stripe",
    "KMS_KEY_ID": "key",
    "SCHEDULE_GROUP": "group",
    "SCHEDULER_ROLE_ARN": "arn:role",
    "UPLOAD_FUNCTION_ARN": "arn:upload",
    "DEAD_LETTER_QUEUE_ARN": "arn:dlq",
    "MAIL_FROM": "no-reply@example.com",
}


@pytest.fixture
def environment(monkeypatch):
    for name, value in COMPLETE.items():
        monkeypatch.setenv(name, value)
    load_settings.cache_clear()
    yield monkeypatch
    load_settings.cache_clear()


def test_settings_load_from_the_environment(environment):
    environment.setenv("VIDEO_RETENTION_HOURS", "12")
    loaded = load_settings(PurgeSettings)
    assert loaded.MEDIA_BUCKET == "bucket"
    assert loaded.VIDEO_RETENTION_HOURS == 12
    assert loaded.is_local


def test_a_missing_variable_is_named(environment):
    environment.delenv("MEDIA_BUCKET")
    with pytest.raises(ConfigurationError, match="MEDIA_BUCKET"):
        load_settings(PurgeSettings)


def test_an_invalid_variable_is_named_without_its_value(environment):
    environment.setenv("VIDEO_RETENTION_HOURS", "48-hours-secret")
    with pytest.raises(ConfigurationError, match="VIDEO_RETENTION_HOURS") as raised:
        load_settings(PurgeSettings)
    assert "48-hours-secret" not in str(raised.value)


def test_p07_retention_cannot_be_configured_beyond_24_hours(environment):
    environment.setenv("VIDEO_RETENTION_HOURS", "25")
    with pytest.raises(ConfigurationError, match="VIDEO_RETENTION_HOURS"):
        load_settings(PurgeSettings)

"""Pure rules of scheduling: reading the creator's time, and when TikTok can never post an earlier publish."""

from datetime import UTC, datetime

import pytest

from flowctory.domain.scheduling import resolve_time, tiktok_never_posts
from flowctory.models.tiktok import PublishStatus

NOW = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("2026-10-24T18:30:00+02:00", datetime(2026, 10, 24, 16, 30, tzinfo=UTC)),
        ("2026-10-24T16:30:00Z", datetime(2026, 10, 24, 16, 30, tzinfo=UTC)),
        ("2026-10-24T18:30", datetime(2026, 10, 24, 16, 30, tzinfo=UTC)),  # Paris, summer time
        ("2026-10-26T18:30", datetime(2026, 10, 26, 17, 30, tzinfo=UTC)),  # Paris, winter time
        # 02:30 happens twice on 25 October 2026 in Paris: the first (summer time) is meant
        ("2026-10-25T02:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
)
def test_times_are_read_as_the_creator_means_them(value, expected):
    instant, problems = resolve_time(value, timezone="Europe/Paris", now=NOW)
    assert problems == {}
    assert instant == expected


@pytest.mark.parametrize("value", ["2027-03-28T02:30", "next friday", "2026-13-01T10:00"])
def test_times_that_do_not_exist_or_do_not_parse_name_scheduled_at(value):
    instant, problems = resolve_time(value, timezone="Europe/Paris", now=NOW)
    assert instant is None
    assert set(problems) == {"scheduled_at"}


def status(**fields):
    return PublishStatus.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "never"),
    [
        ({"status": "FAILED", "fail_reason": "internal"}, True),
        ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0}, True),
        ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 999}, True),
        ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 1000}, False),  # all bytes there: it may still post
        ({"status": "PROCESSING_DOWNLOAD"}, False),
        ({"status": "SEND_TO_USER_INBOX"}, False),
        ({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ["7300"]}, False),
    ],
)
def test_a_retry_starts_over_only_when_tiktok_says_it_can_never_post_the_earlier_publish(fields, never):
    assert tiktok_never_posts(status(**fields), video_size=1000) is never

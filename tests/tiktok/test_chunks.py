"""The chunk planner against TikTok's worked examples, and against the simulator's validator."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowctory.domain.chunks import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MAX_VIDEO_SIZE,
    MIN_CHUNK_SIZE,
    ChunkPlanError,
    plan_chunks,
)
from sandbox.tiktok_sim.rules import chunk_plan_problem

BOTH_READINGS = [{"mb_unit": "decimal"}, {"mb_unit": "binary"}]


def test_reproduces_the_reference_worked_example():
    # Given TikTok's example: 50,000,123 bytes in 10,000,000-byte chunks
    plan = plan_chunks(50_000_123, chunk_size=10_000_000)

    # Then five chunks, the remainder folded into the last one
    assert (plan.video_size, plan.chunk_size, plan.total_chunk_count) == (50_000_123, 10_000_000, 5)
    assert [(r.first_byte, r.last_byte) for r in plan.ranges] == [
        (0, 9_999_999),
        (10_000_000, 19_999_999),
        (20_000_000, 29_999_999),
        (30_000_000, 39_999_999),
        (40_000_000, 50_000_122),
    ]
    assert plan.ranges[-1].size == 10_000_123
    assert plan.ranges[-1].content_range(plan.video_size) == "bytes 40000000-50000122/50000123"


def test_a_4_mb_video_goes_up_whole():
    plan = plan_chunks(4_194_304)
    assert (plan.chunk_size, plan.total_chunk_count) == (4_194_304, 1)
    assert plan.source_info() == {
        "source": "FILE_UPLOAD",
        "video_size": 4_194_304,
        "chunk_size": 4_194_304,
        "total_chunk_count": 1,
    }


@pytest.mark.parametrize(
    ("size", "chunk_size", "count", "last_chunk"),
    [
        (1, 1, 1, 1),
        (64_000_000, 64_000_000, 1, 64_000_000),  # the largest single chunk
        (64_000_001, DEFAULT_CHUNK_SIZE, 6, 14_000_001),  # one byte more needs several
        (150_000_000, DEFAULT_CHUNK_SIZE, 15, 10_000_000),
        (MAX_VIDEO_SIZE, DEFAULT_CHUNK_SIZE, 400, 10_000_000),
    ],
)
def test_default_plan(size, chunk_size, count, last_chunk):
    plan = plan_chunks(size)
    assert (plan.chunk_size, plan.total_chunk_count, plan.ranges[-1].size) == (chunk_size, count, last_chunk)


@pytest.mark.parametrize(
    ("size", "chunk_size"),
    [(0, None), (-5, None), (MAX_VIDEO_SIZE + 1, None), (100_000_000, 1_000_000), (100_000_000, 65_000_000)],
)
def test_refuses_what_tiktok_would_refuse(size, chunk_size):
    with pytest.raises(ChunkPlanError):
        plan_chunks(size, chunk_size)


def test_a_chunk_size_that_leaves_one_chunk_over_64_mb_is_refused():
    # 100 MB in 60 MB chunks would be one 100 MB chunk: TikTok wants several above 64 MB
    with pytest.raises(ChunkPlanError):
        plan_chunks(100_000_000, 60_000_000)


@pytest.mark.parametrize(
    ("video_size", "chunk_size", "count"),
    [
        (50_000_123, 10_000_000, 4),  # count is not floor(size / chunk)
        (50_000_123, 1_000_000, 50),  # chunks under 5 MB
        (6_000_000, 5_500_000, 1),  # one chunk that is not the whole video
        (200_000_000, 100_000_000, 2),  # chunks over 64 MB
        (100_000_000, 100_000_000, 1),  # over 64 MB in one chunk
        (5_000_000_000, 10_000_000, 500),  # over 4 GB
        (20_000_000_000, 10_000_000, 2000),  # over 1000 chunks (and 4 GB)
    ],
)
@pytest.mark.parametrize("reading", BOTH_READINGS)
def test_the_simulator_validator_refuses_bad_plans(video_size, chunk_size, count, reading):
    assert chunk_plan_problem(video_size, chunk_size, count, **reading) is not None


@settings(max_examples=400, deadline=None)
@given(size=st.integers(min_value=1, max_value=MAX_VIDEO_SIZE))
def test_every_default_plan_is_accepted_and_covers_every_byte_once(size):
    plan = plan_chunks(size)
    for reading in BOTH_READINGS:
        assert chunk_plan_problem(plan.video_size, plan.chunk_size, plan.total_chunk_count, **reading) is None
    _assert_covers_every_byte_once(plan)


@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=MAX_VIDEO_SIZE),
    chunk_size=st.integers(min_value=MIN_CHUNK_SIZE, max_value=MAX_CHUNK_SIZE),
)
def test_every_plan_with_a_chosen_chunk_size_is_accepted_or_refused_up_front(size, chunk_size):
    try:
        plan = plan_chunks(size, chunk_size)
    except ChunkPlanError:
        # Refused only when TikTok would refuse it too: over 1000 chunks, or one chunk over 64 MB
        assert size // chunk_size > 1000 or (size // chunk_size <= 1 and size > MAX_CHUNK_SIZE)
        return
    for reading in BOTH_READINGS:
        assert chunk_plan_problem(plan.video_size, plan.chunk_size, plan.total_chunk_count, **reading) is None
    _assert_covers_every_byte_once(plan)


def _assert_covers_every_byte_once(plan):
    ranges = plan.ranges
    assert ranges[0].first_byte == 0
    assert ranges[-1].last_byte == plan.video_size - 1
    for previous, current in itertools.pairwise(ranges):
        assert current.first_byte == previous.last_byte + 1
    assert sum(r.size for r in ranges) == plan.video_size
    assert all(plan.index_at(r.first_byte) == r.index for r in ranges)
    assert plan.max_chunk_bytes == max(r.size for r in ranges)

"""TikTok's validation rules as the simulator applies them, written from the reference on their own.

They are deliberately not imported from the product's package: the client's chunk planner is
tested against this validator, so the two must not share code.
"""

from typing import Literal

from flowctory.media import VideoMetadata

MEGABYTE = {"decimal": 1_000_000, "binary": 1_048_576}
ACCEPTED_CONTAINERS = {"mp4", "mov", "webm"}
ACCEPTED_CODECS = {"h264", "h265", "vp8", "vp9"}
UPLOAD_CONTENT_TYPES = {"video/mp4", "video/quicktime", "video/webm"}


def chunk_plan_problem(
    video_size: int,
    chunk_size: int,
    total_chunk_count: int,
    *,
    mb_unit: Literal["decimal", "binary"] = "decimal",
    strict_single_chunk: bool = True,
) -> str | None:
    """Why TikTok would refuse this FILE_UPLOAD plan, or None when it accepts it."""
    mb = MEGABYTE[mb_unit]
    if video_size <= 0 or chunk_size <= 0 or total_chunk_count <= 0:
        return "sizes and counts must be positive"
    if video_size > 4 * (1000 if mb_unit == "decimal" else 1024) * mb:
        return "video_size is over 4 GB"
    if total_chunk_count != video_size // chunk_size:
        return "total_chunk_count is not floor(video_size / chunk_size)"
    if not 1 <= total_chunk_count <= 1000:
        return "total_chunk_count is outside 1..1000"
    whole = total_chunk_count == 1 and chunk_size == video_size
    if chunk_size < 5 * mb and not whole:
        return "chunk_size is under 5 MB"
    if chunk_size > 64 * mb:
        return "chunk_size is over 64 MB"
    if video_size > 64 * mb and total_chunk_count == 1:
        return "a video over 64 MB needs several chunks"
    last_chunk = video_size - (total_chunk_count - 1) * chunk_size
    if last_chunk > 128 * mb:
        return "the last chunk is over 128 MB"
    if strict_single_chunk and total_chunk_count == 1 and chunk_size != video_size:
        return "a single chunk must hold the whole video"
    return None


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def media_fail_reason(metadata: VideoMetadata, *, max_duration: float, min_duration: float | None = None) -> str | None:
    """The `fail_reason` TikTok's processing would give this video, or None when it passes."""
    if metadata.container not in ACCEPTED_CONTAINERS or metadata.codec not in ACCEPTED_CODECS:
        return "file_format_check_failed"
    if metadata.frame_rate is None:
        return "file_format_check_failed"
    if metadata.duration_seconds > max_duration or (min_duration and metadata.duration_seconds < min_duration):
        return "duration_check_failed"
    if not 23 <= metadata.frame_rate <= 60:
        return "frame_rate_check_failed"
    if not (360 <= metadata.width <= 4096 and 360 <= metadata.height <= 4096):
        return "picture_size_check_failed"
    return None

"""How a video is cut into chunks for TikTok's FILE_UPLOAD (Content Posting API, "media transfer").

TikTok's rules: `total_chunk_count = floor(video_size / chunk_size)`; every chunk 5 MB to 64 MB
except the last, which takes the trailing bytes (up to 128 MB); a video under 5 MB goes up whole;
a video over 64 MB needs more than one chunk; 1 to 1000 chunks; 4 GB at most. TikTok's docs mix
decimal and binary megabytes, so every limit here is the stricter of the two readings: a plan
this module makes is valid whichever one TikTok applies.
"""

from dataclasses import dataclass

MB = 1_000_000
MIB = 1_048_576

MIN_CHUNK_SIZE = 5 * MIB  # the larger of 5 MB and 5 MiB
MAX_CHUNK_SIZE = 64 * MB  # the smaller of 64 MB and 64 MiB
MAX_LAST_CHUNK_SIZE = 128 * MB
MAX_CHUNK_COUNT = 1000
MAX_VIDEO_SIZE = 4_000_000_000  # 4 GB in the stricter (decimal) reading
SINGLE_CHUNK_LIMIT = MAX_CHUNK_SIZE
DEFAULT_CHUNK_SIZE = 10 * MB  # TikTok's own example value; a 4 GB video then takes 400 chunks


class ChunkPlanError(ValueError):
    """No valid plan exists for this size (empty, too large) or for the chunk size asked for."""


@dataclass(frozen=True)
class ChunkRange:
    index: int
    first_byte: int
    last_byte: int  # inclusive, as in Content-Range

    @property
    def size(self) -> int:
        return self.last_byte - self.first_byte + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.first_byte}-{self.last_byte}/{total}"


@dataclass(frozen=True)
class ChunkPlan:
    """The three numbers TikTok's init takes, and the byte ranges they imply."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def range(self, index: int) -> ChunkRange:
        """The `index`-th chunk; the last one runs to the end of the video."""
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(index)
        first = index * self.chunk_size
        last = self.video_size - 1 if index == self.total_chunk_count - 1 else first + self.chunk_size - 1
        return ChunkRange(index, first, last)

    @property
    def ranges(self) -> list[ChunkRange]:
        return [self.range(i) for i in range(self.total_chunk_count)]

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk (the last one): what an uploader holds in memory at most."""
        return self.range(self.total_chunk_count - 1).size

    def index_at(self, offset: int) -> int | None:
        """The chunk starting at byte `offset`, or None when `offset` is not a chunk boundary."""
        if offset < 0 or offset >= self.video_size or offset % self.chunk_size:
            return None
        index = offset // self.chunk_size
        return index if index < self.total_chunk_count else None

    def source_info(self) -> dict[str, int | str]:
        """The `source_info` of a FILE_UPLOAD init."""
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


def plan_chunks(video_size: int, chunk_size: int | None = None) -> ChunkPlan:
    """The chunk plan for a video of `video_size` bytes.

    Without `chunk_size`: one chunk up to 64,000,000 bytes, else 10,000,000-byte chunks with the
    remainder folded into the last. With `chunk_size`: that size, unless the video fits in one chunk.

    Raises:
        ChunkPlanError: the video is empty or over 4 GB, or `chunk_size` cannot make a valid plan.
    """
    if video_size <= 0:
        raise ChunkPlanError("The video is empty.")
    if video_size > MAX_VIDEO_SIZE:
        raise ChunkPlanError("TikTok accepts videos of at most 4 GB.")
    if chunk_size is None:
        chunk_size = video_size if video_size <= SINGLE_CHUNK_LIMIT else DEFAULT_CHUNK_SIZE
    elif not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ChunkPlanError(f"A chunk must hold {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes.")
    count = video_size // chunk_size
    if count <= 1:
        # One chunk: TikTok wants chunk_size == video_size then (and reads a count of 0 as invalid).
        if video_size > SINGLE_CHUNK_LIMIT:
            raise ChunkPlanError("A video over 64 MB needs a smaller chunk size.")
        return ChunkPlan(video_size=video_size, chunk_size=video_size, total_chunk_count=1)
    if count > MAX_CHUNK_COUNT:
        raise ChunkPlanError(f"The chunk size gives more than {MAX_CHUNK_COUNT} chunks.")
    return ChunkPlan(video_size=video_size, chunk_size=chunk_size, total_chunk_count=count)

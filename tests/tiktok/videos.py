"""Real video files for the tests, encoded with PyAV (FFmpeg's libraries), plus broken variants.

Nothing binary is committed: a session fixture writes these into a temporary folder.
"""

import hashlib
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class Video:
    path: Path
    container: str  # what the probe should report ("" for files that are not videos)
    content_type: str
    fail_reason: str | None  # what TikTok's processing should answer (for a 600 s creator unless noted)

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class VideoSet:
    mp4: Video
    mp4_faststart: Video
    mov: Video
    webm_vp9: Video
    webm_vp8: Video
    truncated: Video  # faststart MP4 cut short: its mdat claims more bytes than the file has
    no_moov: Video  # MP4 whose moov box (at the end) was never written
    low_fps: Video  # 15 fps
    small: Video  # 320x320: a side under 360 px
    long: Video  # 61 s: too long for a creator with a 60 s maximum
    not_video: Video

    def valid(self) -> list[Video]:
        return [self.mp4, self.mp4_faststart, self.mov, self.webm_vp9, self.webm_vp8]


def encode(
    path: Path, *, fmt: str, codec: str, width: int, height: int, fps: int, seconds: float, faststart: bool = False
) -> Path:
    """A real video of solid frames whose shade changes each frame (cheap to encode)."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        else:
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane_index, plane in enumerate(frame.planes):
                plane.update(bytes([(index * 7 + plane_index * 60) % 256]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_all(folder: Path) -> VideoSet:
    def mp4(name: str, **kwargs: object) -> Path:
        settings: dict[str, object] = {"fmt": "mp4", "codec": "libx264", "width": 360, "height": 640, "fps": 30}
        settings.update({"seconds": 2, **kwargs})
        return encode(folder / name, **settings)  # type: ignore[arg-type]

    plain = mp4("plain.mp4")
    faststart = mp4("faststart.mp4", width=480, height=480, fps=24, faststart=True)
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 2 // 3])
    no_moov = folder / "no_moov.mp4"
    no_moov.write_bytes(_without_box(plain.read_bytes(), b"moov"))
    not_video = folder / "notes.mp4"
    not_video.write_bytes(b"This is a text file that pretends to be a video.\n" * 100)
    return VideoSet(
        mp4=Video(plain, "mp4", "video/mp4", None),
        mp4_faststart=Video(faststart, "mp4", "video/mp4", None),
        mov=Video(
            encode(folder / "clip.mov", fmt="mov", codec="libx264", width=640, height=360, fps=25, seconds=2),
            "mov",
            "video/quicktime",
            None,
        ),
        webm_vp9=Video(
            encode(folder / "vp9.webm", fmt="webm", codec="libvpx-vp9", width=360, height=360, fps=24, seconds=2),
            "webm",
            "video/webm",
            None,
        ),
        webm_vp8=Video(
            encode(folder / "vp8.webm", fmt="webm", codec="libvpx", width=400, height=360, fps=60, seconds=1),
            "webm",
            "video/webm",
            None,
        ),
        truncated=Video(truncated, "", "video/mp4", "file_format_check_failed"),
        no_moov=Video(no_moov, "", "video/mp4", "file_format_check_failed"),
        low_fps=Video(mp4("low_fps.mp4", fps=15), "mp4", "video/mp4", "frame_rate_check_failed"),
        small=Video(mp4("small.mp4", width=320, height=320), "mp4", "video/mp4", "picture_size_check_failed"),
        long=Video(
            mp4("long.mp4", width=360, height=360, fps=24, seconds=61), "mp4", "video/mp4", "duration_check_failed"
        ),
        not_video=Video(not_video, "", "video/mp4", "file_format_check_failed"),
    )


def _without_box(data: bytes, kind: bytes) -> bytes:
    """The file with one top-level box left out (as when a recorder dies before writing moov)."""
    offset, kept = 0, []
    while offset < len(data):
        size, box = struct.unpack(">I4s", data[offset : offset + 8])
        if box != kind:
            kept.append(data[offset : offset + size])
        offset += size
    return b"".join(kept)


def padded_mp4_pieces(prefix: bytes, total_size: int, piece_size: int = 1 << 20, seed: int = 0) -> Iterator[bytes]:
    """A valid faststart MP4 followed by a top-level `free` box that brings it to `total_size`.

    Generated on the fly (never held whole): the padding differs in every piece, so a chunk sent
    twice or out of order changes the SHA-256 the simulator reports.
    """
    padding = total_size - len(prefix)
    yield prefix
    header = struct.pack(">I4s", padding, b"free")
    yield header
    left = padding - len(header)
    block = random.Random(seed).randbytes(piece_size)
    index = 0
    while left > 0:
        size = min(piece_size, left)
        yield struct.pack(">Q", index) + block[8:size] if size >= 8 else block[:size]
        left -= size
        index += 1


def sha256_of(pieces: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size

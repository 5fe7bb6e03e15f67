"""The media probe against FFmpeg's own reading (PyAV) of real files, and on broken ones."""

import av
import pytest

from flowctory.media import BytesSource, FileSource, MediaProbeError, probe
from tests.tiktok.videos import padded_mp4_pieces

VALID = ["mp4", "mp4_faststart", "mov", "webm_vp9", "webm_vp8"]


@pytest.mark.parametrize("name", VALID)
def test_reports_what_ffmpeg_reports(video_files, name):
    # Given a real video encoded by FFmpeg
    video = getattr(video_files, name)

    # When it is probed
    metadata = probe(FileSource(video.path))

    # Then every figure matches FFmpeg's own reading of the file
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        assert metadata.container == video.container
        assert metadata.mime_type == video.content_type
        assert metadata.codec == stream.codec_context.name
        assert (metadata.width, metadata.height) == (stream.width, stream.height)
        assert metadata.frame_rate == pytest.approx(float(stream.average_rate), rel=1e-3)
        assert metadata.duration_seconds == pytest.approx(container.duration / 1_000_000, abs=0.05)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("truncated", "truncated"), ("no_moov", "no_moov"), ("not_video", "unsupported_format")],
)
def test_broken_files_are_refused_with_the_reason(video_files, name, problem):
    with pytest.raises(MediaProbeError) as caught:
        probe(FileSource(getattr(video_files, name).path))
    assert caught.value.problem == problem


@pytest.mark.parametrize("data", [b"", b"\x00" * 4, b"\x1a\x45\xdf\xa3\x80", b"\x00\x00\x00\x08ftyp\x00\x00\x00\x01"])
def test_garbage_raises_a_probe_error_not_a_crash(data):
    with pytest.raises(MediaProbeError):
        probe(BytesSource(data))


@pytest.mark.parametrize("cut", [9, 40, 120, 400, 2000])
def test_any_cut_of_a_webm_or_mp4_raises_a_probe_error(video_files, cut):
    for video in (video_files.webm_vp9, video_files.mp4_faststart):
        with pytest.raises(MediaProbeError):
            probe(BytesSource(video.data[:cut]))


class CountingSource:
    """A 150 MB file that exists only as pieces; counts what the probe reads (as ranged GETs would)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces
        self.reads: list[tuple[int, int]] = []

    @property
    def size(self) -> int:
        return sum(len(p) for p in self._pieces)

    def read_at(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        out, position = bytearray(), 0
        for piece in self._pieces:
            end = position + len(piece)
            if end > offset and position < offset + length:
                out += piece[max(0, offset - position) : min(len(piece), offset + length - position)]
            position = end
        return bytes(out)


def test_reads_only_the_boxes_it_needs(video_files):
    # Given a 150 MB MP4 whose metadata sits after 150 MB of other boxes (moov at the end)
    data = video_files.mp4.data  # ftyp, free, mdat, moov
    ftyp_size = int.from_bytes(data[:4], "big")
    padding = b"".join(padded_mp4_pieces(b"", 150_000_000 - len(data)))
    source = CountingSource([data[:ftyp_size], padding, data[ftyp_size:]])

    # When it is probed
    metadata = probe(source)

    # Then it is read correctly from a few small reads, never the media data
    assert (metadata.width, metadata.height, metadata.frame_rate) == (360, 640, 30.0)
    assert sum(length for _, length in source.reads) < 100_000
    assert len(source.reads) <= 6

"""Reads a video's container metadata (format, codec, duration, frame rate, size) from its headers.

Why a small parser of our own instead of ffprobe or a parser library: the pre-flight check runs in
a Lambda against a video in S3, where every read is a ranged GET. This module asks its
`ByteSource` only for the boxes it needs (box headers along the top level of an MP4/MOV, then
`moov`; the EBML header, `Info` and `Tracks` of a WebM) and never for the media data, so a 4 GB
video costs a few small reads. ffprobe is a binary the Lambda does not have; pymediainfo needs a
native library; hachoir and enzyme read through a file object in patterns we do not control, and
neither covers both container families with frame rates. The tests check every figure this module
reports against FFmpeg's own (PyAV) on real files.
"""

import os
import struct
from dataclasses import dataclass
from typing import Literal, Protocol

Container = Literal["mp4", "mov", "webm", "matroska"]
ProbeProblem = Literal["unsupported_format", "truncated", "no_moov", "no_video_track", "malformed"]

MIME_TYPES: dict[str, str] = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}

_BLOCK = 16 * 1024
_MAX_METADATA_BYTES = 64 * 1024 * 1024  # a moov/Tracks larger than this is not a video we accept


class ByteSource(Protocol):
    """Random access to a file's bytes (a local file, a buffer, or ranged GETs on an S3 object)."""

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...


class MediaProbeError(ValueError):
    """The bytes are not a readable MP4, MOV or WebM video; `problem` says why."""

    def __init__(self, problem: ProbeProblem, message: str) -> None:
        super().__init__(message)
        self.problem: ProbeProblem = problem


@dataclass(frozen=True)
class VideoMetadata:
    container: Container
    codec: str | None  # "h264", "h265", "vp8", "vp9", "av1", or the raw four-character code
    duration_seconds: float
    width: int  # as displayed (rotation applied)
    height: int
    frame_rate: float | None  # average frames per second; None when the headers do not say

    @property
    def mime_type(self) -> str | None:
        """The upload Content-Type TikTok expects for this container (None when it takes none)."""
        return MIME_TYPES.get(self.container)


class BytesSource:
    """A ByteSource over bytes already in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


class FileSource:
    """A ByteSource over a local file, opened per read (safe to share between threads)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = path
        self._size = os.path.getsize(path)

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        with open(self._path, "rb") as file:
            file.seek(offset)
            return file.read(length)


class _Reader:
    """Reads through a ByteSource in small blocks, keeping the last one (headers sit close together)."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.size = source.size
        self._block_start = 0
        self._block = b""

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if not (self._block_start <= offset and end <= self._block_start + len(self._block)):
            if end - offset > _BLOCK:
                return self.source.read_at(offset, end - offset)
            self._block_start = offset
            self._block = self.source.read_at(offset, min(_BLOCK, self.size - offset))
        start = offset - self._block_start
        return self._block[start : start + end - offset]


def probe(source: ByteSource) -> VideoMetadata:
    """The container metadata of the video in `source`.

    Raises:
        MediaProbeError: not an MP4/MOV/WebM/Matroska file, cut short, without `moov`, or with no video track.
    """
    reader = _Reader(source)
    head = reader.read(0, 12)
    if len(head) < 8:
        raise MediaProbeError("unsupported_format", "The file is too short to be a video.")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _probe_matroska(reader)
    if head[4:8] in _TOP_LEVEL_BOXES:
        return _probe_isobmff(reader)
    raise MediaProbeError("unsupported_format", "The file is not an MP4, MOV or WebM video.")


# --- MP4 / MOV (ISO base media file format and QuickTime) ---------------------------------------

_TOP_LEVEL_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"pdin"}
_MP4_CODECS = {"avc1": "h264", "avc3": "h264", "hvc1": "h265", "hev1": "h265", "vp08": "vp8", "vp09": "vp9"}
_MP4_CODECS |= {"av01": "av1"}


def _box_header(reader: _Reader, offset: int, end: int) -> tuple[bytes, int, int]:
    """(type, header length, box length) of the box at `offset`, checked against `end`."""
    header = reader.read(offset, 16)
    if len(header) < 8:
        raise MediaProbeError("truncated", "The file ends inside a box header.")
    size, kind = struct.unpack(">I4s", header[:8])
    header_length = 8
    if size == 1:
        if len(header) < 16:
            raise MediaProbeError("truncated", "The file ends inside a box header.")
        (size,) = struct.unpack(">Q", header[8:16])
        header_length = 16
    elif size == 0:
        size = end - offset
    if size < header_length:
        raise MediaProbeError("malformed", "A box has an impossible size.")
    if offset + size > end:
        raise MediaProbeError("truncated", "The file is shorter than its boxes say: it was cut short.")
    return kind, header_length, size


def _children(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, list[bytes]]:
    """The child boxes of an in-memory box body, by type."""
    end = len(data) if end is None else end
    boxes: dict[bytes, list[bytes]] = {}
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header_length = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header_length = 16
        elif size == 0:
            size = end - offset
        if size < header_length or offset + size > end:
            raise MediaProbeError("malformed", "The movie header (moov) is corrupt.")
        boxes.setdefault(kind, []).append(data[offset + header_length : offset + size])
        offset += size
    return boxes


def _first(boxes: dict[bytes, list[bytes]], kind: bytes) -> bytes | None:
    found = boxes.get(kind)
    return found[0] if found else None


def _probe_isobmff(reader: _Reader) -> VideoMetadata:
    offset, brand, moov = 0, b"", b""
    while offset < reader.size:
        kind, header_length, size = _box_header(reader, offset, reader.size)
        if kind == b"ftyp" and size <= 4096:
            brand = reader.read(offset + header_length, 4)
        elif kind == b"moov":
            if size > _MAX_METADATA_BYTES:
                raise MediaProbeError("malformed", "The movie header (moov) is implausibly large.")
            moov = reader.read(offset + header_length, size - header_length)
        offset += size
    if not moov:
        raise MediaProbeError("no_moov", "The video has no movie header (moov box): it is incomplete.")
    container: Container = "mov" if brand in (b"qt  ", b"") else "mp4"
    try:
        return _parse_moov(moov, container)
    except (struct.error, IndexError):
        raise MediaProbeError("malformed", "The movie header (moov) is corrupt.") from None


def _parse_moov(moov: bytes, container: Container) -> VideoMetadata:
    boxes = _children(moov)
    movie_duration = 0.0
    mvhd = _first(boxes, b"mvhd")
    if mvhd:
        timescale, duration = _timescale_duration(mvhd, 12, 20)
        movie_duration = duration / timescale if timescale else 0.0
    for trak in boxes.get(b"trak", []):
        track = _children(trak)
        mdia = _children(_first(track, b"mdia") or b"")
        hdlr = _first(mdia, b"hdlr")
        if not hdlr or hdlr[8:12] != b"vide":
            continue
        stbl = _children(_first(_children(_first(mdia, b"minf") or b""), b"stbl") or b"")
        mdhd = _first(mdia, b"mdhd") or b""
        timescale, media_duration = _timescale_duration(mdhd, 12, 20) if mdhd else (0, 0)
        codec, coded_size = _sample_description(_first(stbl, b"stsd"))
        width, height = _track_size(_first(track, b"tkhd"), coded_size)
        frames, ticks = _sample_timing(_first(stbl, b"stts"))
        frame_rate = frames * timescale / ticks if frames and ticks and timescale else None
        seconds = movie_duration or (media_duration / timescale if timescale else 0.0)
        return VideoMetadata(container, codec, round(seconds, 6), width, height, _round_rate(frame_rate))
    raise MediaProbeError("no_video_track", "The file has no video track.")


def _timescale_duration(box: bytes, v0_offset: int, v1_offset: int) -> tuple[int, int]:
    """(timescale, duration) of an mvhd/mdhd body (version 0 or 1)."""
    if box[0] == 1:
        timescale, duration = struct.unpack(">IQ", box[v1_offset : v1_offset + 12])
    else:
        timescale, duration = struct.unpack(">II", box[v0_offset : v0_offset + 8])
    return int(timescale), int(duration)


def _sample_description(stsd: bytes | None) -> tuple[str | None, tuple[int, int]]:
    if not stsd or len(stsd) < 16:
        return None, (0, 0)
    fourcc = stsd[12:16].decode("latin-1")
    width, height = struct.unpack(">HH", stsd[8 + 32 : 8 + 36]) if len(stsd) >= 44 else (0, 0)
    return _MP4_CODECS.get(fourcc, fourcc.strip()), (width, height)


def _track_size(tkhd: bytes | None, coded_size: tuple[int, int]) -> tuple[int, int]:
    """Display size from tkhd (16.16 fixed point), turned by its matrix; the coded size as a fallback."""
    if not tkhd:
        return coded_size
    base = 4 + (32 if tkhd[0] == 1 else 20) + 8 + 8  # version/flags, times+id+duration, reserved, layer..volume
    matrix = struct.unpack(">9i", tkhd[base : base + 36])
    width, height = (value >> 16 for value in struct.unpack(">II", tkhd[base + 36 : base + 44]))
    if not width or not height:
        width, height = coded_size
    if matrix[0] == 0 and abs(matrix[1]) == 1 << 16:  # rotated by 90 or 270 degrees
        width, height = height, width
    return width, height


def _sample_timing(stts: bytes | None) -> tuple[int, int]:
    """(number of samples, total duration in media ticks) from the time-to-sample table."""
    if not stts or len(stts) < 8:
        return 0, 0
    (count,) = struct.unpack(">I", stts[4:8])
    frames = ticks = 0
    for index in range(count):
        samples, delta = struct.unpack(">II", stts[8 + 8 * index : 16 + 8 * index])
        frames += samples
        ticks += samples * delta
    return frames, ticks


def _round_rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 3)


# --- WebM / Matroska (EBML) ---------------------------------------------------------------------

_EBML_DOC_TYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TRACKS = 0x1654AE6B
_CLUSTER = 0x1F43B675
_TIMESTAMP_SCALE = 0x2AD7B1
_DURATION = 0x4489
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_DEFAULT_DURATION = 0x23E383
_VIDEO = 0xE0
_PIXEL_WIDTH = 0xB0
_PIXEL_HEIGHT = 0xBA
_UNKNOWN = -1
_MKV_CODECS = {"V_VP8": "vp8", "V_VP9": "vp9", "V_AV1": "av1", "V_MPEG4/ISO/AVC": "h264", "V_MPEGH/ISO/HEVC": "h265"}


def _vint(data: bytes, offset: int, *, keep_marker: bool) -> tuple[int, int]:
    """(value, length) of the EBML variable-length integer at `offset`; sizes of all ones are unknown."""
    if offset >= len(data):
        raise MediaProbeError("truncated", "The file ends inside an element header.")
    first = data[offset]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise MediaProbeError("malformed", "An element header is corrupt.")
    if offset + length > len(data):
        raise MediaProbeError("truncated", "The file ends inside an element header.")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return _UNKNOWN, length
    return value, length


def _element_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(id, header length, data size) of the element at `offset` of `data`."""
    element_id, id_length = _vint(data, offset, keep_marker=True)
    size, size_length = _vint(data, offset + id_length, keep_marker=False)
    return element_id, id_length + size_length, size


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    """The child elements of an in-memory element body."""
    found, offset = [], 0
    while offset < len(data):
        element_id, header_length, size = _element_header(data, offset)
        if size == _UNKNOWN or offset + header_length + size > len(data):
            raise MediaProbeError("malformed", "The track headers are corrupt.")
        found.append((element_id, data[offset + header_length : offset + header_length + size]))
        offset += header_length + size
    return found


def _uint(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _probe_matroska(reader: _Reader) -> VideoMetadata:
    header = reader.read(0, 12)
    _, header_length, size = _element_header(header, 0)
    body = reader.read(header_length, size)
    if len(body) < size:
        raise MediaProbeError("truncated", "The file ends inside its header.")
    doc_type = next((value for key, value in _elements(body) if key == _EBML_DOC_TYPE), b"")
    container: Container = "webm" if doc_type.rstrip(b"\0") == b"webm" else "matroska"
    offset = header_length + size
    segment_id, segment_header, segment_size = _element_header(reader.read(offset, 12), 0)
    if segment_id != _SEGMENT:
        raise MediaProbeError("malformed", "The file has no Matroska segment.")
    offset += segment_header
    end = reader.size if segment_size == _UNKNOWN else offset + segment_size
    if end > reader.size:
        raise MediaProbeError("truncated", "The file is shorter than its header says: it was cut short.")
    info = tracks = None
    while offset < end and (info is None or tracks is None):
        element_id, element_header, element_size = _element_header(reader.read(offset, 12), 0)
        if element_size == _UNKNOWN:
            break  # a live-style cluster of unknown size: the headers we need come before it
        if offset + element_header + element_size > end:
            raise MediaProbeError("truncated", "The file is shorter than its elements say: it was cut short.")
        if element_id in (_INFO, _TRACKS):
            if element_size > _MAX_METADATA_BYTES:
                raise MediaProbeError("malformed", "The track headers are implausibly large.")
            data = reader.read(offset + element_header, element_size)
            if element_id == _INFO:
                info = data
            else:
                tracks = data
        offset += element_header + element_size
    if info is None or tracks is None:
        raise MediaProbeError("malformed", "The file has no segment information or track list.")
    return _parse_matroska(container, info, tracks)


def _parse_matroska(container: Container, info: bytes, tracks: bytes) -> VideoMetadata:
    scale, duration = 1_000_000, None
    for element_id, value in _elements(info):
        if element_id == _TIMESTAMP_SCALE:
            scale = _uint(value)
        elif element_id == _DURATION and len(value) in (4, 8):
            (duration,) = struct.unpack(">f" if len(value) == 4 else ">d", value)
    if duration is None:
        raise MediaProbeError("malformed", "The file does not say how long it is.")
    for element_id, entry in _elements(tracks):
        if element_id != _TRACK_ENTRY:
            continue
        fields = dict(_elements(entry))
        if _uint(fields.get(_TRACK_TYPE, b"")) != 1:
            continue
        video = dict(_elements(fields.get(_VIDEO, b"")))
        codec_id = fields.get(_CODEC_ID, b"").decode("ascii", "replace").rstrip("\0")
        frame_ns = _uint(fields.get(_DEFAULT_DURATION, b""))
        return VideoMetadata(
            container=container,
            codec=_MKV_CODECS.get(codec_id, codec_id or None),
            duration_seconds=round(duration * scale / 1e9, 6),
            width=_uint(video.get(_PIXEL_WIDTH, b"")),
            height=_uint(video.get(_PIXEL_HEIGHT, b"")),
            frame_rate=_round_rate(1e9 / frame_ns if frame_ns else None),
        )
    raise MediaProbeError("no_video_track", "The file has no video track.")

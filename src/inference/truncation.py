"""Whether an Ogg, MP3, MP4 or WebM upload was cut off, from what its container promises.

libsndfile decodes the first half of an Ogg or MP3 file without a word (and mpg123 even pads an
MP3 to the length its Xing header states), so an interrupted upload would be transcribed as if it
were whole. The containers say how they end, and that is what is checked:

- Ogg: the last page of a stream carries the end-of-stream flag, and a page is as long as its
  segment table says. A file whose last page lacks the flag, or stops inside it, was cut.
- MP3 with a Xing/Info header (LAME and most encoders write one): the header states the number
  of frames; fewer complete frames than that means the file was cut. An MP3 without such a
  header states no length, so its truncation cannot be told from a shorter recording.
- MP4/M4A: each top-level box states its size; a `moov` or `mdat` box that runs past the bytes present,
  or a file without `moov`, was cut.
- WebM/Matroska: each element states its size (a live recording's segment and clusters may leave
  theirs unknown, their blocks still state theirs); an element that runs past the bytes present was cut.

WAV's RIFF size is checked where the header is read (`inference.audio`); libsndfile itself refuses
a FLAC file cut short (its decoder loses sync).
"""

from __future__ import annotations

from inference.formats import read_ebml_element

_OGG_CAPTURE = b"OggS"
_OGG_HEADER = 27
_OGG_EOS = 0x04
OGG_MAX_PAGE = _OGG_HEADER + 255 + 255 * 255
"""The longest an Ogg page can be: what `ogg_truncation` needs of the file's end."""

# MPEG audio frame header tables (ISO 11172-3, 13818-3): Layer III bitrates in kbit/s.
_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def ogg_truncation(tail: bytes) -> str | None:
    """Why an Ogg file ending in `tail` (at least its last OGG_MAX_PAGE bytes) is cut off, or None."""
    start = tail.rfind(_OGG_CAPTURE)
    if start < 0 or len(tail) - start < _OGG_HEADER:
        return "the Ogg data is truncated: it ends inside a page header"
    header = tail[start : start + _OGG_HEADER]
    segments = header[26]
    table = tail[start + _OGG_HEADER : start + _OGG_HEADER + segments]
    page_end = start + _OGG_HEADER + segments + sum(table)
    if len(table) < segments or page_end > len(tail):
        return "the Ogg data is truncated: its last page is incomplete"
    if not header[5] & _OGG_EOS:
        return "the Ogg data is truncated: its last page does not end the stream"
    return None


def mp3_truncation(data: bytes | memoryview) -> str | None:
    """Why an MP3 whose Xing/Info header states its frame count has fewer frames, or None (also None
    when there is no such header: nothing states the length)."""
    view = memoryview(data)
    tag_end = id3v2_end(view)
    if tag_end > len(view):
        return (
            f"the MP3 data is truncated inside its ID3 tag: the tag declares {tag_end:,} bytes, "
            f"{len(view):,} arrived, and no audio"
        )
    first = _first_frame(view)
    if first is None:
        return None
    declared = _xing_frames(view, first)
    if declared is None:
        return None
    present = _complete_frames(view, first) - 1  # the Xing/Info frame itself carries no audio
    if present < declared:
        return f"the MP3 data is truncated: its header declares {declared:,} frames, {present:,} are there"
    return None


def id3v2_end(view: memoryview | bytes) -> int:
    """Where a leading ID3v2 tag ends (its 10-byte header, a syncsafe size, and v2.4's 10-byte footer
    when its flag says so); 0 without one."""
    if bytes(view[:3]) != b"ID3" or len(view) < 10:
        return 0
    size = (view[6] << 21) | (view[7] << 14) | (view[8] << 7) | view[9]
    return 10 + size + (10 if view[5] & 0x10 else 0)


def has_id3v2_footer(view: memoryview | bytes) -> bool:
    """An ID3v2.4 tag with a footer, which libsndfile does not skip ("Format not recognised")."""
    return bytes(view[:3]) == b"ID3" and len(view) >= 10 and view[3] == 4 and bool(view[5] & 0x10)


def _first_frame(view: memoryview) -> int | None:
    offset = id3v2_end(view)
    return offset if _frame_length(view, offset) else None


def _frame_length(view: memoryview, offset: int) -> int:
    """The length of the Layer III frame at `offset`, or 0 where there is no valid header."""
    if offset + 4 > len(view) or view[offset] != 0xFF or view[offset + 1] & 0xE0 != 0xE0:
        return 0
    version = (view[offset + 1] >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (view[offset + 1] >> 1) & 0x03  # 1: Layer III
    bitrate_index = view[offset + 2] >> 4
    rate_index = (view[offset + 2] >> 2) & 0x03
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    padding = (view[offset + 2] >> 1) & 0x01
    bitrate = (_BITRATES_V1 if version == 3 else _BITRATES_V2)[bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    per_frame = 144 if version == 3 else 72
    return per_frame * bitrate // rate + padding


def _xing_frames(view: memoryview, first: int) -> int | None:
    """The frame count the first frame's Xing/Info header states, if it has one with that field."""
    version = (view[first + 1] >> 3) & 0x03
    mono = (view[first + 3] >> 6) == 3
    side_info = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    at = first + 4 + side_info
    tag = bytes(view[at : at + 4])
    if tag not in (b"Xing", b"Info") or at + 12 > len(view):
        return None
    flags = int.from_bytes(view[at + 4 : at + 8], "big")
    if not flags & 0x01:
        return None
    return int.from_bytes(view[at + 8 : at + 12], "big")


def _complete_frames(view: memoryview, offset: int) -> int:
    """Frames from `offset` on whose whole length is there, until the data or the frame sync ends."""
    count = 0
    while True:
        length = _frame_length(view, offset)
        if not length or offset + length > len(view):
            return count
        count += 1
        offset += length


def mp4_truncation(data: bytes | memoryview) -> str | None:
    """Why an MP4/M4A file is cut off, or None: each top-level box states its size, and the last one
    must end within the bytes present; the index (`moov`) must be there at all (a phone recording
    interrupted before it was finalised has samples and no index)."""
    view = memoryview(data)
    size, offset, seen_moov = len(view), 0, False
    while offset < size:
        if size - offset < 8:
            return f"the MP4 data is truncated: it ends inside a box header at byte {offset:,}"
        declared = int.from_bytes(view[offset : offset + 4], "big")
        kind = bytes(view[offset + 4 : offset + 8])
        header = 8
        if declared == 1:  # a 64-bit size follows the type
            if size - offset < 16:
                return f"the MP4 data is truncated: it ends inside a box header at byte {offset:,}"
            declared, header = int.from_bytes(view[offset + 8 : offset + 16], "big"), 16
        elif declared == 0:  # the box runs to the end of the file
            declared = size - offset
        seen_moov = seen_moov or kind == b"moov"
        if declared < header:
            return None  # malformed, not cut: the demuxer refuses it
        if offset + declared > size:
            name = kind.decode("latin-1")
            return f"the MP4 data is truncated: its {name!r} box declares {declared:,} bytes, {size - offset:,} arrived"
        offset += declared
    if not seen_moov:
        return "the MP4 data is truncated: it has no 'moov' box (the index a finished recording ends or starts with)"
    return None


_EBML_HEADER = 0x1A45DFA3
_MKV_SEGMENT = 0x18538067
_MKV_CLUSTER = 0x1F43B675
_MKV_TOP_LEVEL = frozenset(
    {0x114D9B74, 0x1549A966, 0x1654AE6B, _MKV_CLUSTER, 0x1C53BB6B, 0x1941A469, 0x1043A770, 0x1254C367}
)
"""The Segment's children (SeekHead, Info, Tracks, Cluster, Cues, Attachments, Chapters, Tags): where a
cluster of unknown size ends."""


def ebml_truncation(data: bytes | memoryview) -> str | None:
    """Why a WebM/Matroska file is cut off, or None. Every element states its size: the EBML header, the
    Segment, and each of the Segment's children must end within the bytes present. A live recording
    (MediaRecorder's) leaves the Segment's and the clusters' sizes unknown; then the walk goes into each
    cluster, whose blocks state theirs. A live recording cut exactly between two blocks cannot be told
    from a shorter one."""
    view = memoryview(data)
    size = len(view)
    header = read_ebml_element(view, 0)
    if header is None or header[0] != _EBML_HEADER:
        return "the WebM data is truncated: it ends inside its EBML header"
    if header[1] is None or header[2] + header[1] > size:
        return "the WebM data is truncated: it ends inside its EBML header"
    offset = header[2] + header[1]
    segment = read_ebml_element(view, offset)
    if segment is None:
        return "the WebM data is truncated: it ends before its Segment"
    if segment[0] != _MKV_SEGMENT:
        return None  # not a Segment: malformed, the demuxer refuses it
    limit = size if segment[1] is None else segment[2] + segment[1]
    if limit > size:
        return f"the WebM data is truncated: its Segment declares {segment[1]:,} bytes, {size - segment[2]:,} arrived"
    offset = segment[2]
    in_cluster = False
    while offset < limit:
        element = read_ebml_element(view, offset)
        if element is None:
            return f"the WebM data is truncated: it ends inside an element header at byte {offset:,}"
        element_id, length, start = element
        if element_id in _MKV_TOP_LEVEL:
            in_cluster = False
        if length is None:
            if element_id != _MKV_CLUSTER or in_cluster:
                return None  # only a cluster may leave its size unknown: malformed, the demuxer decides
            in_cluster, offset = True, start
            continue
        if start + length > limit:
            return (
                f"the WebM data is truncated: an element at byte {offset:,} declares {length:,} bytes, "
                f"{limit - start:,} arrived"
            )
        offset = start + length
    return None

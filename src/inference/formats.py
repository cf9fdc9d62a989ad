"""The audio formats the service accepts: one list, and the sniffer that checks bytes against it.

`FORMATS` is the one source of truth. The refusal message (`ACCEPTED_DESCRIPTION`), the OpenAPI
document's description of the file, docs/api.md, the result schema's `audio.format` values
(`RESULT_FORMATS`) and the page's file picker (`ACCEPT_ATTRIBUTE`) are all derived from it, and
`tests/unit/test_formats.py` checks that each of those places says what this module says.

The container is chosen from the first bytes alone, never from a file name or a `Content-Type`:
anything that is not one of these containers (an HLS playlist, an `ffconcat` script, text naming
a URL or a path, an image) is refused before any decoder sees it. What was detected is named in the
refusal, so a user who sent an AIFF or a raw AAC stream learns what to convert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SNIFF_BYTES = 512
"""How much of the input's start the sniffer reads."""


@dataclass(frozen=True, kw_only=True)
class AudioFormat:
    """One accepted container: how users know it, how it is decoded, which codecs inside it are allowed."""

    name: str
    """How users know the container (messages, docs, the page)."""
    result_name: str
    """The container part of the result's `audio.format` (`OGG/Opus`, `MP4/AAC`)."""
    codecs: tuple[str, ...]
    """The codecs accepted inside it, as users know them; empty where the container implies the codec."""
    decoder: Literal["libsndfile", "pyav"]
    """libsndfile (`soundfile`) or FFmpeg through PyAV, opened with `demuxer` alone."""
    demuxer: str | None = None
    """FFmpeg's demuxer for the container (PyAV only): the only one FFmpeg is allowed to run."""
    pyav_codecs: tuple[str, ...] = ()
    """FFmpeg's codec names allowed inside the container (PyAV only), in the order of `codecs`."""
    extensions: tuple[str, ...]
    """File name extensions, for the page's file picker only (never used to choose a decoder)."""
    media_types: tuple[str, ...]
    """The media types browsers and phones label such files with, for the page's file picker."""

    @property
    def description(self) -> str:
        return f"{self.name} ({', '.join(self.codecs)})" if self.codecs else self.name

    @property
    def result_formats(self) -> tuple[str, ...]:
        if not self.codecs:
            return (self.result_name,)
        return tuple(f"{self.result_name}/{codec}" for codec in self.codecs)


WAV = AudioFormat(
    name="WAV",
    result_name="WAV",
    codecs=(),
    decoder="libsndfile",
    extensions=(".wav",),
    media_types=("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
)
FLAC = AudioFormat(
    name="FLAC",
    result_name="FLAC",
    codecs=(),
    decoder="libsndfile",
    extensions=(".flac",),
    media_types=("audio/flac", "audio/x-flac"),
)
MP3 = AudioFormat(
    name="MP3",
    result_name="MP3",
    codecs=(),
    decoder="libsndfile",
    extensions=(".mp3",),
    media_types=("audio/mpeg", "audio/mp3"),
)
OGG = AudioFormat(
    name="Ogg",
    result_name="OGG",
    codecs=("Vorbis", "Opus"),
    decoder="libsndfile",
    extensions=(".ogg", ".oga", ".opus"),
    media_types=("audio/ogg", "audio/opus"),
)
OGG_OPUS = AudioFormat(
    name="Ogg",
    result_name="OGG",
    codecs=("Opus",),
    decoder="pyav",
    demuxer="ogg",
    pyav_codecs=("opus",),
    extensions=OGG.extensions,
    media_types=OGG.media_types,
)
"""Ogg whose first packet is `OpusHead`: part of `OGG` for users, decoded by FFmpeg. libsndfile (>= 1.0.29)
reads Opus too, but at ~74 ns per sample and channel against FFmpeg's ~19 (docs/architecture.md), over
the decoding budget's 40 ns; Ogg/Vorbis stays with libsndfile."""
MP4 = AudioFormat(
    name="MP4/M4A",
    result_name="MP4",
    codecs=("AAC", "ALAC"),
    decoder="pyav",
    demuxer="mp4",
    pyav_codecs=("aac", "alac"),
    extensions=(".m4a", ".mp4", ".m4b"),
    media_types=("audio/mp4", "audio/x-m4a", "audio/m4a", "video/mp4"),
)
WEBM = AudioFormat(
    name="WebM/Matroska",
    result_name="WebM",
    codecs=("Opus", "Vorbis"),
    decoder="pyav",
    demuxer="matroska",
    pyav_codecs=("opus", "vorbis"),
    extensions=(".webm", ".mka"),
    media_types=("audio/webm", "video/webm", "audio/x-matroska"),
)

FORMATS: tuple[AudioFormat, ...] = (WAV, FLAC, MP3, OGG, MP4, WEBM)
"""Every accepted container, in the order messages and docs list them."""

ACCEPTED_DESCRIPTION = ", ".join(f.description for f in FORMATS)
"""`WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)`."""

RESULT_FORMATS: tuple[str, ...] = tuple(name for f in FORMATS for name in f.result_formats)
"""Every value a result's `audio.format` may take (docs/result-schema.json lists exactly these)."""

ACCEPT_ATTRIBUTE = ",".join(
    dict.fromkeys([*(ext for f in FORMATS for ext in f.extensions), *(t for f in FORMATS for t in f.media_types)])
)
"""The page's file picker `accept` attribute (web/index.html carries exactly this)."""


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes are: an accepted format (and the codec where the start shows it), or not."""

    format: AudioFormat | None
    detected: str
    """What was found, as a message names it (`MP4/M4A`, `an HLS playlist (#EXTM3U)`)."""
    codec: str | None = None
    """The codec, where the first bytes already tell (Ogg's first packet)."""


# ISO base media brands of files that carry audio (ISO/IEC 14496-12 and -14, Apple's M4A/M4B, 3GPP).
_MP4_AUDIO_BRANDS = frozenset(
    {
        b"M4A ",
        b"M4B ",
        b"mp41",
        b"mp42",
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"dash",
        b"avc1",
        b"3gp4",
        b"3gp5",
        b"3gp6",
        b"3g2a",
        b"qt  ",
        b"MSNV",
        b"f4a ",
    }
)
_MP4_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis"})
_MP4_DRM_BRANDS = frozenset({b"M4P ", b"M4V "})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282


def sniff(head: bytes) -> Sniffed:
    """What the first bytes of an input (at least `SNIFF_BYTES` of them where the input has that many) are."""
    if (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[:4] in (b"RF64", b"BW64"):
        return Sniffed(WAV, "WAV")
    if head[:4] == b"fLaC":
        return Sniffed(FLAC, "FLAC")
    if head[:4] == b"OggS":
        return _sniff_ogg(head)
    if head[4:8] == b"ftyp":
        return _sniff_mp4(head)
    if head[:4] == _EBML_MAGIC:
        return _sniff_ebml(head)
    if head[:3] == b"ID3":
        return Sniffed(MP3, "MP3")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        if head[1] & 0x06 == 0:  # layer bits 00: an ADTS header, AAC frames with no container
            return Sniffed(None, "raw AAC (ADTS) with no container: send it as M4A")
        return Sniffed(MP3, "MP3")
    return Sniffed(None, _not_audio(head))


def _sniff_ogg(head: bytes) -> Sniffed:
    """Ogg's first page holds the first stream's first packet, which names its codec."""
    segments = head[26] if len(head) > 26 else 0
    packet = head[27 + segments : 27 + segments + 8]
    if packet[:7] == b"\x01vorbis":
        return Sniffed(OGG, "Ogg/Vorbis", codec="Vorbis")
    if packet[:8] == b"OpusHead":
        return Sniffed(OGG_OPUS, "Ogg/Opus", codec="Opus")
    for magic, name in ((b"\x7fFLAC", "FLAC"), (b"Speex   ", "Speex"), (b"\x80theora", "Theora video")):
        if packet.startswith(magic):
            return Sniffed(None, f"Ogg/{name}")
    return Sniffed(None, "Ogg with an unknown first stream")


def _sniff_mp4(head: bytes) -> Sniffed:
    """An ISO base media file: its `ftyp` box names the brands it conforms to."""
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _MP4_IMAGE_BRANDS:
        return Sniffed(None, f"an HEIF/AVIF image (ftyp {major.decode('latin-1')!r})")
    if major in _MP4_DRM_BRANDS:
        return Sniffed(None, f"a DRM-protected MP4 (ftyp {major.decode('latin-1')!r})")
    if major in _MP4_AUDIO_BRANDS or compatible & _MP4_AUDIO_BRANDS:
        return Sniffed(MP4, "MP4/M4A")
    return Sniffed(None, f"an ISO media file of brand {major.decode('latin-1')!r}")


def _sniff_ebml(head: bytes) -> Sniffed:
    """An EBML document: its header's DocType says whether it is Matroska (WebM is a subset)."""
    doctype = ebml_doctype(head)
    if doctype in ("webm", "matroska"):
        return Sniffed(WEBM, "WebM" if doctype == "webm" else "Matroska")
    return Sniffed(None, f"an EBML document of type {doctype!r}" if doctype else "an EBML document without a DocType")


def ebml_doctype(head: bytes) -> str | None:
    """The DocType in the EBML header at the start of `head`, if it is there whole."""
    header = read_ebml_element(head, 0)
    if header is None:
        return None
    _, size, start = header
    end = min(len(head), start + size) if size is not None else len(head)
    pos = start
    while pos < end:
        child = read_ebml_element(head, pos)
        if child is None:
            return None
        element, length, data = child
        if length is None:
            return None
        if element == _EBML_DOCTYPE:
            return head[data : data + length].rstrip(b"\x00").decode("ascii", "replace")
        pos = data + length
    return None


def read_ebml_element(data: bytes | bytearray | memoryview, pos: int) -> tuple[int, int | None, int] | None:
    """(id, size or None when unknown, where its data starts) of the EBML element at `pos`; None when
    the bytes end inside its header or it is not valid EBML."""
    element = _vint(data, pos, keep_marker=True)
    if element is None:
        return None
    element_id, id_length = element
    size = _vint(data, pos + id_length, keep_marker=False)
    if size is None:
        return None
    value, size_length = size
    unknown = value == (1 << (7 * size_length)) - 1
    return element_id, None if unknown else value, pos + id_length + size_length


def _vint(data: bytes | bytearray | memoryview, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    length = 9 - first.bit_length()
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, length


_IMAGES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
)


def _not_audio(head: bytes) -> str:
    """A name for what a refused input seems to be (the refusal says it; nothing else depends on it)."""
    for magic, name in _IMAGES:
        if head.startswith(magic):
            return name
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[:4] == b"caff":
        return "CAF (Core Audio Format)"
    if head[:4] == b".snd":
        return "Sun/NeXT AU"
    if head[:4] == b"RIFF":
        return f"a RIFF file of type {head[8:12].decode('latin-1')!r}"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"#extm3u"):
        return "an HLS playlist (#EXTM3U)"
    if text.startswith(b"ffconcat"):
        return "an ffconcat script"
    if text.startswith(b"<"):
        return "markup (HTML, XML or SVG)"
    if any(scheme in text for scheme in (b"://", b"file:", b"data:")):
        return "text naming a URL"
    if text.startswith((b"/", b"./", b"../", b"~/")) or b"\\" in text[:3]:
        return "text naming a path"
    if head and all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head[:64]):
        return "text"
    return "an unknown format"

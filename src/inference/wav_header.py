"""What a WAV-family header (RIFF, RF64, BW64) declares, read before libsndfile opens it.

Four things libsndfile does not do well: a file cut short decodes without a word (the header's size,
in RIFF's 32-bit field or RF64/BW64's 64-bit `ds64` chunk, says how much should have come); a sample
rate of 0 or 4 GHz fails with its internal wording ("SF_INFO struct incomplete") rather than the
service's own bound; BW64 (ITU-R BS.2088, RF64's layout under another magic) is "not recognised", so it
is shown to libsndfile under RF64's name; and a WAV streamed by a recorder that could not go back to
write its length (to a pipe, or still recording) carries a placeholder there: 0 reads as no samples,
so the sizes are shown to libsndfile as what arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, cast

from inference.byte_views import Patched

HEADER_BYTES = 64 * 1024
"""How much of the file is read for the header: fmt may follow a long bext, JUNK or LIST chunk."""
_UNKNOWN_32 = (0, 0x7FFFFFFF, 0xFFFFFFFF)
"""What streaming writers put in RIFF's and the data chunk's sizes when they cannot know the length:
0, or the largest signed or unsigned 32-bit size."""
_UNKNOWN_64 = (0, 0xFFFFFFFFFFFFFFFF)
_MAGICS = (b"RIFF", b"RF64", b"BW64")


@dataclass(frozen=True)
class WavHeader:
    magic: bytes
    declared_bytes: int | None
    """The whole file's size as the header declares it; None: unknown (streamed) or not found."""
    sample_rate: int | None
    """The fmt chunk's rate; None: no fmt chunk in the first HEADER_BYTES."""
    channels: int | None
    streamed_sizes_at: tuple[int, int] | None = None
    """A streamed RIFF (a placeholder size): where its RIFF and data chunk sizes are, to be shown as what
    arrived (`with_sizes_of`); None for anything else."""

    def truncation(self, size: int) -> str | None:
        """Why a file of `size` bytes is cut short of what its header declares (one missing pad byte allowed)."""
        if self.declared_bytes is not None and self.declared_bytes > size + 1:
            return f"the WAV data is truncated: its header declares {self.declared_bytes:,} bytes, {size:,} arrived"
        return None


def parse(head: bytes) -> WavHeader | None:
    """The header of a RIFF/WAVE, RF64 or BW64 file from its first bytes; None for anything else."""
    if len(head) < 12 or head[:4] not in _MAGICS or head[8:12] != b"WAVE":
        return None
    magic = head[:4]
    declared: int | None = None
    riff_size = 0
    if magic == b"RIFF":
        riff_size = struct.unpack_from("<I", head, 4)[0]
        declared = None if riff_size in _UNKNOWN_32 else riff_size + 8
    elif head[12:16] == b"ds64" and len(head) >= 28:
        riff_size = struct.unpack_from("<Q", head, 20)[0]
        declared = None if riff_size in _UNKNOWN_64 else riff_size + 8
    rate = channels = None
    data_size_at: int | None = None
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk == b"fmt " and offset + 16 <= len(head):
            channels, rate = struct.unpack_from("<HI", head, offset + 10)
        if chunk == b"data":
            streamed = size in _UNKNOWN_32 or riff_size in _UNKNOWN_32
            data_size_at = offset + 4 if magic == b"RIFF" and streamed else None
            break
        offset += 8 + size + (size & 1)
    if data_size_at is not None:
        declared = None  # a placeholder, not a promise: what arrived is the recording
    return WavHeader(magic, declared, rate, channels, (4, data_size_at) if data_size_at is not None else None)


def as_rf64(file: IO[bytes]) -> IO[bytes]:
    """A BW64 file as libsndfile reads it: the same bytes with RF64's magic."""
    return cast(IO[bytes], Patched(file, 0, b"RF64"))


def with_sizes_of(file: IO[bytes], header: WavHeader, size: int) -> IO[bytes]:
    """A streamed RIFF of `size` bytes as libsndfile reads it: its RIFF and data sizes those that arrived."""
    assert header.streamed_sizes_at is not None
    riff_at, data_at = header.streamed_sizes_at
    riff_size, data_size = min(size - 8, 0xFFFFFFFF), min(max(size - data_at - 4, 0), 0xFFFFFFFF)
    riff_patched = cast(IO[bytes], Patched(file, riff_at, struct.pack("<I", riff_size)))
    return cast(IO[bytes], Patched(riff_patched, data_at, struct.pack("<I", data_size)))

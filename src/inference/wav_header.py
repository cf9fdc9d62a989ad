"""What a WAV-family header (RIFF, RF64, BW64) declares, read before libsndfile opens it.

Three things libsndfile does not say well: a file cut short decodes without a word (the header's size,
in RIFF's 32-bit field or RF64/BW64's 64-bit `ds64` chunk, says how much should have come); a sample
rate of 0 or 4 GHz fails with its internal wording ("SF_INFO struct incomplete") rather than the
service's own bound; and BW64 (ITU-R BS.2088, RF64's layout under another magic) is "not recognised",
so it is shown to libsndfile under RF64's name.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import IO, cast

HEADER_BYTES = 64 * 1024
"""How much of the file is read for the header: fmt may follow a long bext, JUNK or LIST chunk."""
_UNKNOWN_32 = (0, 0xFFFFFFFF)  # a streamed RIFF writes either when it cannot know its length
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
    if magic == b"RIFF":
        riff_size = struct.unpack_from("<I", head, 4)[0]
        declared = None if riff_size in _UNKNOWN_32 else riff_size + 8
    elif head[12:16] == b"ds64" and len(head) >= 28:
        riff_size = struct.unpack_from("<Q", head, 20)[0]
        declared = None if riff_size in _UNKNOWN_64 else riff_size + 8
    rate = channels = None
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk == b"fmt ":
            if offset + 16 <= len(head):
                channels, rate = struct.unpack_from("<HI", head, offset + 10)
            break
        if chunk == b"data":
            break
        offset += 8 + size + (size & 1)
    return WavHeader(magic, declared, rate, channels)


def as_rf64(file: IO[bytes]) -> IO[bytes]:
    """A BW64 file as libsndfile reads it: the same bytes with RF64's magic."""
    return cast(IO[bytes], _RenamedMagic(file, b"RF64"))


class _RenamedMagic(io.RawIOBase):
    """A seekable read-only view of `file` whose first four bytes are `magic`."""

    def __init__(self, file: IO[bytes], magic: bytes) -> None:
        super().__init__()
        self._file, self._magic = file, magic

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        start = self._file.tell()
        data = self._file.read(len(buffer))
        if start < len(self._magic) and data:
            patched = bytearray(data)
            end = min(len(self._magic) - start, len(patched))
            patched[:end] = self._magic[start : start + end]
            data = bytes(patched)
        buffer[: len(data)] = data
        return len(data)

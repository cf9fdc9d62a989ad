"""Read-only, seekable views of a file that libsndfile reads as another file: bytes replaced at an
offset (a header's placeholder sizes, BW64's magic), or the file from an offset on (past a tag it does
not skip). The file itself is never copied or changed."""

from __future__ import annotations

import io
from typing import IO


class Patched(io.RawIOBase):
    """A seekable read-only view of `file` whose bytes from `at` are `patch`."""

    def __init__(self, file: IO[bytes], at: int, patch: bytes) -> None:
        super().__init__()
        self._file, self._at, self._patch = file, at, patch

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
        first, last = max(start, self._at), min(start + len(data), self._at + len(self._patch))
        if first < last:
            changed = bytearray(data)
            changed[first - start : last - start] = self._patch[first - self._at : last - self._at]
            data = bytes(changed)
        buffer[: len(data)] = data
        return len(data)


class FromOffset(io.RawIOBase):
    """A seekable read-only view of `file` that starts at its byte `start`."""

    def __init__(self, file: IO[bytes], start: int) -> None:
        super().__init__()
        self._file, self._start = file, start
        self._file.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            return self._file.seek(self._start + max(offset, 0)) - self._start
        return max(self._file.seek(offset, whence), self._start) - self._start

    def tell(self) -> int:
        return self._file.tell() - self._start

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

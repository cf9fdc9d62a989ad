"""Activation maps on disk, read and written a block at a time, so memory does not grow with length.

Two layouts of a (frames, bins) float32 map:

- `RowFile`: time-major, appended as the model produces windows; read as row ranges (the onset
  pass, pitch bends).
- `ColumnFile`: pitch-major, for note creation, which walks one pitch's column at a time. It is a
  shared memory map (reads and zeroing are numpy slicing, with no system call each); every
  `RELEASE_EVERY` accesses its resident pages are handed back (madvise DONTNEED: the contents stay in
  the file and the page cache), so the pages touched never pile up in the process's resident memory.
"""

from __future__ import annotations

import mmap
import os
import shutil
from pathlib import Path

import numpy as np

FLOAT32 = np.dtype(np.float32)
ITEM = FLOAT32.itemsize


class RowFile:
    """A time-major float32 map with `bins` columns, appended row blocks at a time."""

    def __init__(self, path: Path, bins: int) -> None:
        self.path, self.bins = path, bins
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.n_rows = 0

    def append(self, rows: np.ndarray) -> None:
        block = np.ascontiguousarray(rows, dtype=np.float32)
        assert block.ndim == 2 and block.shape[1] == self.bins
        os.pwrite(self._fd, block.tobytes(), self.n_rows * self.bins * ITEM)
        self.n_rows += block.shape[0]

    def truncate(self, n_rows: int) -> None:
        """Keep the first `n_rows` rows (the model's last window runs past the audio)."""
        self.n_rows = min(self.n_rows, n_rows)
        os.ftruncate(self._fd, self.n_rows * self.bins * ITEM)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi), clipped to the map; a fresh array the caller may modify."""
        lo, hi = max(lo, 0), min(hi, self.n_rows)
        if hi <= lo:
            return np.zeros((0, self.bins), dtype=np.float32)
        data = os.pread(self._fd, (hi - lo) * self.bins * ITEM, lo * self.bins * ITEM)
        return np.frombuffer(bytearray(data), dtype=np.float32).reshape(hi - lo, self.bins)

    def close(self) -> None:
        os.close(self._fd)


class ColumnFile:
    """A pitch-major float32 map of `n_rows` rows and `bins` columns: column p's rows are contiguous."""

    RELEASE_EVERY = 128
    """Accesses between two hand-backs of the map's resident pages. A read fault maps the 64 KiB around
    it (the kernel's fault-around), so 128 accesses hold at most ~8 MiB."""

    def __init__(self, path: Path, n_rows: int, bins: int, *, create: bool = True) -> None:
        self.path, self.n_rows, self.bins = path, n_rows, bins
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if create else 0), 0o600)
        size = max(n_rows * bins * ITEM, ITEM)
        if create:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._cells = np.frombuffer(self._map, dtype=np.float32, count=n_rows * bins).reshape(bins, n_rows)
        self._accesses = 0

    def _touch(self) -> None:
        self._accesses += 1
        if self._accesses >= self.RELEASE_EVERY:
            self.release()

    def release(self) -> None:
        """Hand the resident pages back to the kernel; the next access reads them from the page cache."""
        self._accesses = 0
        self._map.madvise(mmap.MADV_DONTNEED)

    def write_rows(self, lo: int, rows: np.ndarray) -> None:
        """Store rows [lo, lo + len(rows)) of every column."""
        self._cells[:, lo : lo + rows.shape[0]] = rows.T
        self.release()

    def column(self, p: int, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of column p, clipped to the map: a view, to read before the next change."""
        self._touch()
        return self._cells[p, max(lo, 0) : max(min(hi, self.n_rows), 0)]

    def value(self, p: int, row: int) -> float:
        self._touch()
        return float(self._cells[p, row])  # (a float32's exact float64 value)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of every column, time-major."""
        lo, hi = max(lo, 0), min(hi, self.n_rows)
        out = np.ascontiguousarray(self._cells[:, lo:hi].T)
        self.release()
        return out

    def zero(self, columns: range, lo: int, hi: int) -> None:
        """Set rows [lo, hi) (lo >= 0) of the adjacent `columns` to 0, in one slice."""
        if hi > lo:
            self._touch()
            self._cells[columns.start : columns.stop, lo:hi] = 0

    def copy_to(self, path: Path) -> ColumnFile:
        """A second map with the same contents (the note pass consumes one and keeps the other)."""
        self._map.flush()
        shutil.copyfile(self.path, path)
        return ColumnFile(path, self.n_rows, self.bins, create=False)

    def close(self) -> None:
        del self._cells
        self._map.close()
        os.close(self._fd)

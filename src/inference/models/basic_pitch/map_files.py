"""Activation maps on disk, read and written a block at a time, so memory does not grow with length.

Two layouts of a (frames, bins) float32 map:

- `RowFile`: time-major, appended as the model produces windows; read as row ranges (the onset
  pass, pitch bends).
- `ColumnFile`: pitch-major, for note creation, which walks one pitch's column at a time; cells are
  read and zeroed with positioned I/O (`os.pread`/`os.pwrite`) rather than a memory map, so the pages
  touched stay in the kernel's page cache and out of the process's resident memory.
"""

from __future__ import annotations

import os
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

    def __init__(self, path: Path, n_rows: int, bins: int) -> None:
        self.path, self.n_rows, self.bins = path, n_rows, bins
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self._fd, n_rows * bins * ITEM)

    def write_rows(self, lo: int, rows: np.ndarray) -> None:
        """Store rows [lo, lo + len(rows)) of every column (one positioned write per column)."""
        columns = np.ascontiguousarray(rows.T, dtype=np.float32)
        for p in range(self.bins):
            os.pwrite(self._fd, columns[p].tobytes(), (p * self.n_rows + lo) * ITEM)

    def column(self, p: int, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of column p, clipped to the map."""
        lo, hi = max(lo, 0), min(hi, self.n_rows)
        if hi <= lo:
            return np.zeros(0, dtype=np.float32)
        data = os.pread(self._fd, (hi - lo) * ITEM, (p * self.n_rows + lo) * ITEM)
        return np.frombuffer(data, dtype=np.float32)

    def value(self, p: int, row: int) -> float:
        return float(np.frombuffer(os.pread(self._fd, ITEM, (p * self.n_rows + row) * ITEM), dtype=np.float32)[0])

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of every column, time-major (one positioned read per column)."""
        lo, hi = max(lo, 0), min(hi, self.n_rows)
        out = np.zeros((max(hi - lo, 0), self.bins), dtype=np.float32)
        for p in range(self.bins):
            out[:, p] = self.column(p, lo, hi)
        return out

    def zero(self, p: int, lo: int, hi: int) -> None:
        """Set rows [lo, hi) of column p to 0."""
        lo, hi = max(lo, 0), min(hi, self.n_rows)
        if hi > lo:
            os.pwrite(self._fd, bytes((hi - lo) * ITEM), (p * self.n_rows + lo) * ITEM)

    def copy_to(self, path: Path) -> ColumnFile:
        """A second map with the same contents (the note pass consumes one and keeps the other)."""
        other = ColumnFile(path, self.n_rows, self.bins)
        block = 1 << 22
        size = self.n_rows * self.bins * ITEM
        for offset in range(0, size, block):
            os.pwrite(other._fd, os.pread(self._fd, min(block, size - offset), offset), offset)
        return other

    def close(self) -> None:
        os.close(self._fd)

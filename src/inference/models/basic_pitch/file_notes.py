"""Note creation over activation maps on disk: the same notes as `notes.notes_from_activations`, in memory
that does not grow with the recording's length.

Why it is exact rather than windowed: the algorithm is global in three places, and each is kept.
- Inferred onsets scale by max(onsets) / max(frame differences) over the whole file: a first pass
  takes both maxima, the second computes the onset map block by block with two rows of context.
- Onset notes are made latest first, each scanning its pitch forward through what later notes left:
  the scans read and zero one pitch column of the pitch-major `remaining` map on disk, in that order.
- The melodia step takes the strongest remaining cell of the whole file, again and again: the
  candidates (cells above the frame threshold after the onset notes) are sorted in runs of rows, then
  merged, which yields argmax's order (energy down, then row-major index up) without a heap of them all;
  a candidate consumed since is recognised by its cell no longer holding its energy, as before.
Every comparison is made in float64 as in memory (the maps are float32, whose float64 values are exact),
and every scan reproduces the loop it replaces, stop conditions included, a block at a time.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.map_files import ColumnFile, RowFile
from inference.models.basic_pitch.notes import (
    ENERGY_TOLERANCE,
    INFERRED_ONSET_DIFFS,
    FrameNote,
    NoteSettings,
    check_note_budget,
    hz_to_midi,
    pitch_bends,
)

Rows = Callable[[int, int], np.ndarray]
"""Rows [a, b) of a time-major map, frequency limits applied."""

SCAN_BLOCK = 256
"""Rows of one pitch read at a time while a note grows."""
CHUNK_ROWS = 8192
"""Rows per block of the passes over whole maps (onset map, candidates): ~3-6 MB each."""


def pitch_range(min_hz: float | None, max_hz: float | None) -> tuple[int, int]:
    """The pitch columns [lo, hi) that `notes.constrain_frequency` leaves untouched."""
    lo, hi = 0, c.N_PITCHES
    if max_hz is not None:
        hi = min(max(int(np.round(hz_to_midi(max_hz) - c.MIDI_OFFSET)), 0), c.N_PITCHES)
    if min_hz is not None:
        lo = min(max(int(np.round(hz_to_midi(min_hz) - c.MIDI_OFFSET)), 0), c.N_PITCHES)
    return lo, hi


def _constrained(block: np.ndarray, lo: int, hi: int) -> np.ndarray:
    block[:, hi:] = 0
    block[:, :lo] = 0
    return block


def notes_from_files(
    frames: RowFile, onsets: RowFile, settings: NoteSettings, workdir: Path, *, chunk_rows: int | None = None
) -> list[FrameNote]:
    """Note events in frames, from the model's raw note and onset maps (time-major files)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    n = frames.n_rows
    if n == 0:
        return []
    lo_pitch, hi_pitch = pitch_range(settings.min_hz, settings.max_hz)

    def frame_rows(a: int, b: int) -> np.ndarray:
        return _constrained(frames.rows(a, b), lo_pitch, hi_pitch)

    def onset_rows(a: int, b: int) -> np.ndarray:
        return _constrained(onsets.rows(a, b), lo_pitch, hi_pitch)

    max_onset, largest_diff = _global_maxima(n, frame_rows, onset_rows, chunk_rows)
    frames_by_pitch = ColumnFile(workdir / "frames.f32", n, c.N_PITCHES)
    peaks = _FlatIndexFile(workdir / "onset-peaks.i64")
    try:
        for a in range(0, n, chunk_rows):
            b = min(a + chunk_rows, n)
            block = frame_rows(a, b)
            frames_by_pitch.write_rows(a, block)
            onset_map = _onset_map(n, a - 1, b + 1, frame_rows, onset_rows, max_onset, largest_diff)
            peaks.extend(_onset_peaks(n, a, b, onset_map, settings.onset_threshold))
        remaining = frames_by_pitch.copy_to(workdir / "remaining.f32")
        try:
            notes = _onset_notes(peaks, frames_by_pitch, remaining, settings)
            if settings.melodia_trick:
                notes.extend(_melodia_notes(frames_by_pitch, remaining, settings, workdir, chunk_rows, len(notes)))
        finally:
            remaining.close()
    finally:
        frames_by_pitch.close()
        peaks.close()
    return notes


def pitch_bends_from_file(contour: RowFile, notes: list[FrameNote]) -> list[tuple[int, ...]]:
    """`notes.pitch_bends` for each note, reading only that note's rows of the contour map."""
    return [
        pitch_bends(contour.rows(start, end), [(0, end - start, pitch, amplitude)])[0]
        for start, end, pitch, amplitude in notes
    ]


# --- the onset map -----------------------------------------------------------------------------
def _global_maxima(n: int, frame_rows: Rows, onset_rows: Rows, chunk_rows: int) -> tuple[np.float32, np.float64]:
    """max(onsets) (float32, as np.max gives it) and max of the positive frame differences (float64)."""
    max_onset = np.float32(-np.inf)
    largest = np.float64(0.0)
    for a in range(0, n, chunk_rows):
        b = min(a + chunk_rows, n)
        max_onset = max(max_onset, np.float32(np.max(onset_rows(a, b))))
        if n > INFERRED_ONSET_DIFFS:
            diff = _positive_differences(frame_rows, max(a, INFERRED_ONSET_DIFFS), b)
            if diff.size:
                largest = max(largest, np.float64(np.max(diff)))
    return max_onset, largest


def _positive_differences(frame_rows: Rows, a: int, b: int) -> np.ndarray:
    """Rows [a, b) (a >= 2) of max(frame - max(previous two frames), 0), in float64."""
    if b <= a:
        return np.zeros((0, c.N_PITCHES), dtype=np.float64)
    context = frame_rows(a - INFERRED_ONSET_DIFFS, b)
    previous = np.maximum(context[1:-1], context[:-2])
    diff = np.subtract(context[2:], previous, dtype=np.float64)
    np.maximum(diff, 0, out=diff)
    return diff


def _onset_map(
    n: int, a: int, b: int, frame_rows: Rows, onset_rows: Rows, max_onset: np.float32, largest: np.float64
) -> tuple[int, np.ndarray]:
    """(first row, rows [a, b) of the inferred onset map, clipped to the file), as `notes.inferred_onsets`."""
    a, b = max(a, 0), min(b, n)
    diff = np.zeros((b - a, c.N_PITCHES), dtype=np.float64)
    if n > INFERRED_ONSET_DIFFS:
        first = max(a, INFERRED_ONSET_DIFFS)
        diff[first - a :] = _positive_differences(frame_rows, first, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.multiply(diff, max_onset, out=diff)
        np.divide(diff, largest, out=diff)
    np.maximum(diff, onset_rows(a, b), out=diff)
    return a, diff


def _onset_peaks(n: int, a: int, b: int, onset_map: tuple[int, np.ndarray], threshold: float) -> np.ndarray:
    """Flat indices (row * 88 + pitch, ascending) of rows [a, b) selected as `notes.onset_peaks` selects."""
    first, rows = onset_map
    selected = np.zeros((b - a, c.N_PITCHES), dtype=bool)
    inner_lo, inner_hi = max(a, 1), min(b, n - 1)  # a peak needs a row on either side
    if n >= 3 and inner_hi > inner_lo:
        mid = rows[inner_lo - first : inner_hi - first]
        before = rows[inner_lo - 1 - first : inner_hi - 1 - first]
        after = rows[inner_lo + 1 - first : inner_hi + 1 - first]
        is_peak = (mid > before) & (mid > after)
        chosen = is_peak & (mid >= threshold)
        if threshold <= 0:
            chosen |= ~is_peak
        selected[inner_lo - a : inner_hi - a] = chosen
    if threshold <= 0:
        for edge in (0, n - 1):
            if a <= edge < b:
                selected[edge - a] = True
    times, pitches = np.nonzero(selected)
    return (times + a).astype(np.int64) * c.N_PITCHES + pitches


class _FlatIndexFile:
    """Ascending int64 flat indices on disk, read back in descending order a block at a time."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.count = 0

    def extend(self, indices: np.ndarray) -> None:
        os.pwrite(self._fd, np.ascontiguousarray(indices, dtype=np.int64).tobytes(), self.count * 8)
        self.count += indices.shape[0]

    def descending(self, block: int = 1 << 16) -> Iterator[int]:
        for hi in range(self.count, 0, -block):
            lo = max(hi - block, 0)
            values = np.frombuffer(os.pread(self._fd, (hi - lo) * 8, lo * 8), dtype=np.int64)
            yield from values[::-1].tolist()

    def close(self) -> None:
        os.close(self._fd)


# --- growing notes -----------------------------------------------------------------------------
def _scan_forward(column: ColumnFile, p: int, i: int, last: int, threshold: float) -> tuple[int, int]:
    """The (i, quiet) at which `while i < last and quiet < 11: quiet = quiet+1 if v[i] < thr else 0; i += 1`
    stops, reading column p a block at a time."""
    quiet = 0
    while i < last:
        values = column.column(p, i, min(i + SCAN_BLOCK, last))
        stop, quiet, done = _run_of_quiet(values, threshold, quiet)
        if done:
            return i + stop, quiet
        i += values.shape[0]
    return i, quiet


def _scan_backward(column: ColumnFile, p: int, i: int, threshold: float) -> tuple[int, int]:
    """The (i, quiet) at which `while i > 0 and quiet < 11: quiet = ...; i -= 1` stops."""
    quiet = 0
    while i > 0:
        lo = max(i - SCAN_BLOCK + 1, 1)
        values = column.column(p, lo, i + 1)[::-1]
        stop, quiet, done = _run_of_quiet(values, threshold, quiet)
        if done:
            return i - stop, quiet
        i -= values.shape[0]
    return i, quiet


QUIET_RUN = b"\x01" * ENERGY_TOLERANCE


def _run_of_quiet(values: np.ndarray, threshold: float, carried: int) -> tuple[int, int, bool]:
    """Walk `values` counting consecutive cells below `threshold` (continuing `carried`): (cells walked,
    quiet count, whether it reached ENERGY_TOLERANCE). The flags are searched as bytes (C speed)."""
    flags = b"\x01" * carried + (values < np.float64(threshold)).tobytes()
    found = flags.find(QUIET_RUN)
    if found >= 0:
        return found + ENERGY_TOLERANCE - carried, ENERGY_TOLERANCE, True
    return values.shape[0], len(flags) - len(flags.rstrip(b"\x01")), False


def _neighbours(p: int) -> range:
    return range(p - 1 if p > 0 else p, p + 2 if p < c.MAX_PITCH_INDEX else p + 1)


def _amplitude(frames: ColumnFile, p: int, start: int, end: int) -> float:
    mean: float = np.mean(frames.column(p, start, end))  # a float32 mean, as in memory
    return mean


def _onset_notes(
    peaks: _FlatIndexFile, frames: ColumnFile, remaining: ColumnFile, settings: NoteSettings
) -> list[FrameNote]:
    last = frames.n_rows - 1
    notes: list[FrameNote] = []
    for flat in peaks.descending():
        start, p = divmod(flat, c.N_PITCHES)
        if start >= last:
            continue
        i, quiet = _scan_forward(remaining, p, start + 1, last, settings.frame_threshold)
        i -= quiet
        if i - start <= settings.min_note_frames:
            continue
        remaining.zero(_neighbours(p), start, i)
        notes.append((start, i, p + c.MIDI_OFFSET, _amplitude(frames, p, start, i)))
        check_note_budget(len(notes), frames.n_rows)
    return notes


def _melodia_notes(
    frames: ColumnFile, remaining: ColumnFile, settings: NoteSettings, workdir: Path, chunk_rows: int, already: int
) -> list[FrameNote]:
    """`already`: the onset notes made before, counted against the same budget."""
    threshold = settings.frame_threshold
    last = frames.n_rows - 1
    notes: list[FrameNote] = []
    runs = _CandidateRuns(workdir, remaining, threshold, chunk_rows)
    try:
        for neg_energy, flat in runs.merged():
            i_mid, p = divmod(flat, c.N_PITCHES)
            if remaining.value(p, i_mid) != -neg_energy:
                continue  # consumed since it was found (energy only ever drops to zero)
            remaining.zero(range(p, p + 1), i_mid, i_mid + 1)
            neighbours = _neighbours(p)

            i, quiet = _scan_forward(remaining, p, i_mid + 1, last, threshold)
            remaining.zero(neighbours, i_mid + 1, i)
            i_end = i - 1 - quiet

            i, quiet = _scan_backward(remaining, p, i_mid - 1, threshold)
            remaining.zero(neighbours, i + 1, i_mid)
            i_start = i + 1 + quiet

            if i_end - i_start <= settings.min_note_frames:
                continue
            notes.append((i_start, i_end, p + c.MIDI_OFFSET, _amplitude(frames, p, i_start, i_end)))
            check_note_budget(already + len(notes), frames.n_rows)
    finally:
        runs.close()
    return notes


class _CandidateRuns:
    """Cells above the threshold, sorted by (energy down, flat index up) within runs of rows on disk."""

    def __init__(self, workdir: Path, remaining: ColumnFile, threshold: float, chunk_rows: int) -> None:
        self._runs: list[tuple[int, int, int]] = []  # (file descriptor, first item, items)
        path = workdir / "melodia-candidates.bin"
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        written = 0
        for a in range(0, remaining.n_rows, chunk_rows):
            block = remaining.rows(a, a + chunk_rows).astype(np.float64)
            flat_in_block = np.flatnonzero(block > threshold)
            if flat_in_block.size == 0:
                continue
            neg_energy = -block.reshape(-1)[flat_in_block]
            flat = flat_in_block.astype(np.int64) + a * c.N_PITCHES
            order = np.lexsort((flat, neg_energy))
            records = np.empty(order.size, dtype=[("neg_energy", "<f8"), ("flat", "<i8")])
            records["neg_energy"], records["flat"] = neg_energy[order], flat[order]
            os.pwrite(self._fd, records.tobytes(), written * 16)
            self._runs.append((self._fd, written, order.size))
            written += order.size

    MERGE_BUFFER = 1 << 16
    """Candidates held in memory across all runs while merging (each run reads its share at a time)."""

    def merged(self) -> Iterator[tuple[float, int]]:
        block = max(256, self.MERGE_BUFFER // max(len(self._runs), 1))
        return heapq.merge(*(self._read(first, count, block) for _, first, count in self._runs))

    def _read(self, first: int, count: int, block: int) -> Iterator[tuple[float, int]]:
        for lo in range(first, first + count, block):
            hi = min(lo + block, first + count)
            records = np.frombuffer(
                os.pread(self._fd, (hi - lo) * 16, lo * 16), dtype=[("neg_energy", "<f8"), ("flat", "<i8")]
            )
            yield from zip(records["neg_energy"].tolist(), records["flat"].tolist())

    def close(self) -> None:
        os.close(self._fd)

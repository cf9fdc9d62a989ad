"""Windowed inference: overlapping 2 s windows, batched, stitched into one activation map.

Windows start every 36,164 samples over the audio preceded by 3,840 zeros;
each window's output loses 15 frames at either end and the rest is
concatenated, then trimmed to the audio's length in frames — the reference's
layout exactly, which the note timing (`frame_times`) depends on. Outputs are
written into preallocated arrays, so memory stays at the size of the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Iterable

import numpy as np

from inference.models.basic_pitch import constants as c

# (batch of windows, shape (B, WINDOW_SAMPLES, 1)) -> (note, onset, contour or None)
RunBatch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


@dataclass
class Activations:
    note: np.ndarray  # (frames, 88) float32
    onset: np.ndarray  # (frames, 88) float32
    contour: np.ndarray | None  # (frames, 264) float32, when pitch bends are wanted

    @property
    def n_frames(self) -> int:
        return int(self.note.shape[0])


def window_starts(n_samples: int) -> range:
    """Start of each window in the zero-padded signal."""
    return range(0, n_samples + c.LEAD_PADDING_SAMPLES, c.WINDOW_HOP_SAMPLES)


def output_frames(n_samples: int) -> int:
    return int(math.floor(n_samples * (c.FRAMES_PER_SECOND / c.SAMPLE_RATE)))


def fill_window(out: np.ndarray, audio: np.ndarray, start: int) -> None:
    """Copy padded_audio[start:start+WINDOW_SAMPLES] into `out` without building padded_audio."""
    out[:] = 0.0
    lo = start - c.LEAD_PADDING_SAMPLES  # index into `audio` of the window's first sample
    src_lo, src_hi = max(lo, 0), min(lo + c.WINDOW_SAMPLES, audio.shape[0])
    if src_hi > src_lo:
        out[src_lo - lo : src_hi - lo] = audio[src_lo:src_hi]


def run_windows(audio: np.ndarray, run_batch: RunBatch, batch_size: int, want_contour: bool) -> Activations:
    n_out = output_frames(audio.shape[0])
    keep = c.WINDOW_FRAMES - c.OVERLAP_FRAMES  # 142 frames kept per window
    trim = c.OVERLAP_FRAMES // 2
    note = np.zeros((n_out, c.N_PITCHES), dtype=np.float32)
    onset = np.zeros((n_out, c.N_PITCHES), dtype=np.float32)
    contour = np.zeros((n_out, c.N_CONTOUR_BINS), dtype=np.float32) if want_contour else None

    starts = list(window_starts(audio.shape[0]))
    batch = np.zeros((batch_size, c.WINDOW_SAMPLES, 1), dtype=np.float32)
    written = 0
    for first in range(0, len(starts), batch_size):
        group = starts[first : first + batch_size]
        if written >= n_out:
            break
        for row, start in enumerate(group):
            fill_window(batch[row, :, 0], audio, start)
        note_b, onset_b, contour_b = run_batch(batch[: len(group)])
        for row in range(len(group)):
            if written >= n_out:
                break
            take = min(keep, n_out - written)
            note[written : written + take] = note_b[row, trim : trim + take]
            onset[written : written + take] = onset_b[row, trim : trim + take]
            if contour is not None and contour_b is not None:
                contour[written : written + take] = contour_b[row, trim : trim + take]
            written += take
    return Activations(note=note, onset=onset, contour=contour)


# (note, onset, contour or None) rows of the kept frames of one batch, in order
EmitRows = Callable[[np.ndarray, np.ndarray, np.ndarray | None], None]


def stream_windows(blocks: Iterable[np.ndarray], run_batch: RunBatch, batch_size: int, emit: EmitRows) -> int:
    """`run_windows` over audio arriving in blocks: the same windows in the same batches, each batch run
    as soon as its samples are in, its kept frames handed to `emit`. Returns the number of samples.

    Only the samples from the next batch's first window on are held. The last windows are run once the
    audio ends (zeros past it, as `fill_window` pads). `emit` may receive a few frames beyond the audio's
    `output_frames`; the caller keeps the first `output_frames(n_samples)`.
    """
    keep = c.WINDOW_FRAMES - c.OVERLAP_FRAMES
    trim = c.OVERLAP_FRAMES // 2
    batch = np.zeros((batch_size, c.WINDOW_SAMPLES, 1), dtype=np.float32)
    # `held` holds the zero-padded signal from padded index `base` on (LEAD_PADDING_SAMPLES zeros first).
    held, base, n_samples, next_window = np.zeros(c.LEAD_PADDING_SAMPLES, dtype=np.float32), 0, 0, 0

    def run(first: int, count: int) -> None:
        for row in range(count):
            lo = (first + row) * c.WINDOW_HOP_SAMPLES - base
            window = held[lo : lo + c.WINDOW_SAMPLES]
            batch[row, : window.shape[0], 0] = window
            batch[row, window.shape[0] :, 0] = 0.0
        note_b, onset_b, contour_b = run_batch(batch[:count])
        for row in range(count):
            emit(
                note_b[row, trim : trim + keep],
                onset_b[row, trim : trim + keep],
                contour_b[row, trim : trim + keep] if contour_b is not None else None,
            )

    def batch_end(first: int) -> int:
        return (first + batch_size - 1) * c.WINDOW_HOP_SAMPLES + c.WINDOW_SAMPLES

    for block in blocks:
        held = np.concatenate([held, block.astype(np.float32, copy=False)])
        n_samples += block.shape[0]
        while batch_end(next_window) <= base + held.shape[0]:
            run(next_window, batch_size)
            next_window += batch_size
            drop = next_window * c.WINDOW_HOP_SAMPLES - base
            held, base = held[drop:], base + drop
    total = len(window_starts(n_samples))
    while next_window < total:
        count = min(batch_size, total - next_window)
        run(next_window, count)
        next_window += count
    return n_samples

"""Note creation from Basic Pitch activations, following the published algorithm.

Steps (Bittner et al., ICASSP 2022, and the reference post-processing):
1. zero activations outside [minimum_frequency, maximum_frequency];
2. strengthen onsets with positive frame differences ("inferred onsets");
3. every local onset peak above `onset_threshold`, latest first, starts a note
   that lasts while frame activation stays above `frame_threshold` (allowing
   gaps shorter than 11 frames); its energy is consumed;
4. the "melodia trick": repeatedly take the strongest remaining frame
   activation and grow a note around it in both directions;
5. optional pitch bends from the contour map around each note's pitch.

Step 4 is where the reference spends most of its time on long files: it
scans the whole matrix for its maximum once per note. Here a max-heap of the
cells above threshold gives the same cells in the same order (ties broken by
row-major index, as argmax does), since energy only ever drops to zero.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from inference.errors import OutputTooLargeError
from inference.models.basic_pitch import constants as c

ENERGY_TOLERANCE = 11  # frames below threshold allowed inside a note
INFERRED_ONSET_DIFFS = 2
PITCH_BEND_TOLERANCE_BINS = 25

# (start_frame, end_frame, midi_pitch, amplitude)
FrameNote = tuple[int, int, int, float]


def hz_to_midi(hz: float) -> float:
    return float(12.0 * (np.log2(hz) - np.log2(440.0)) + 69.0)


def frame_times(n_frames: int) -> np.ndarray:
    """Seconds of each output frame, undoing the window stitching's drift."""
    return frame_times_at(np.arange(n_frames))


def frame_times_at(frames: np.ndarray) -> np.ndarray:
    """`frame_times` of the given frame indices only (the same arithmetic, element by element)."""
    original = (frames * c.FFT_HOP).astype(int) / float(c.SAMPLE_RATE)
    window_numbers = np.floor(frames / c.WINDOW_FRAMES)
    # 0.0018 s: the reference's empirical alignment constant.
    window_offset = (c.FFT_HOP / c.SAMPLE_RATE) * (c.WINDOW_FRAMES - (c.WINDOW_SAMPLES / c.FFT_HOP)) + 0.0018
    return original - (window_offset * window_numbers)


def constrain_frequency(
    onsets: np.ndarray, frames: np.ndarray, min_hz: float | None, max_hz: float | None
) -> None:
    """Zero (in place) activations above max_hz and below min_hz.

    Indices are clamped to the 88 pitches. The reference slices with the raw
    index, so a limit outside A0..C8 wraps around (a 10 Hz minimum would drop
    the lowest 31 pitches); inside that range both agree.
    """
    if max_hz is not None:
        hi = min(max(int(np.round(hz_to_midi(max_hz) - c.MIDI_OFFSET)), 0), c.N_PITCHES)
        onsets[:, hi:] = 0
        frames[:, hi:] = 0
    if min_hz is not None:
        lo = min(max(int(np.round(hz_to_midi(min_hz) - c.MIDI_OFFSET)), 0), c.N_PITCHES)
        onsets[:, :lo] = 0
        frames[:, :lo] = 0


def inferred_onsets(onsets: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """max(onsets, rescaled positive frame differences), in float64 like the reference.

    The reference takes, per frame, the smaller of the differences to 1 and 2
    frames back; that equals frame - max(previous two), computed here without
    the intermediate stacks. Differences of float32 values are exact in float64.
    """
    diff = np.zeros(frames.shape, dtype=np.float64)
    if frames.shape[0] > INFERRED_ONSET_DIFFS:
        previous = np.maximum(frames[1:-1], frames[:-2])
        np.subtract(frames[2:], previous, out=diff[2:], dtype=np.float64)
        del previous
        np.maximum(diff, 0, out=diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        # all-zero differences (silence) give NaN here, exactly as in the reference
        largest = np.max(diff)
        np.multiply(diff, np.max(onsets), out=diff)  # (max(onsets) * diff) / max(diff): the reference's order
        np.divide(diff, largest, out=diff)
    np.maximum(diff, onsets, out=diff)  # NaN propagates, as np.max over a stack does
    return diff


def onset_peaks(onsets: np.ndarray, onset_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(time, pitch) of cells reaching the threshold in the peak map, latest first.

    The peak map holds each strict local maximum in time (first and last frames
    excluded) and 0 elsewhere, so a threshold <= 0 also selects every non-peak
    cell, as the reference's does.
    """
    selected = np.zeros(onsets.shape, dtype=bool)
    if onsets.shape[0] >= 3:
        mid = onsets[1:-1]
        is_peak = (mid > onsets[:-2]) & (mid > onsets[2:])
        selected[1:-1] = is_peak & (mid >= onset_threshold)
        if onset_threshold <= 0:
            selected[1:-1] |= ~is_peak
    if onset_threshold <= 0:
        selected[0] = selected[-1] = True
    times, pitches = np.nonzero(selected)
    return times[::-1], pitches[::-1]


def note_budget(n_frames: int) -> int:
    """The most notes a transcription of `n_frames` output frames may produce."""
    return c.MIN_NOTE_BUDGET + math.ceil(n_frames / c.FRAMES_PER_SECOND * c.MAX_NOTES_PER_AUDIO_SECOND)


def bend_budget(n_frames: int) -> int:
    """The most pitch-bend values (one per frame of each note) a transcription may produce."""
    return c.MIN_NOTE_BUDGET * c.FRAMES_PER_SECOND + n_frames * c.MAX_BEND_VOICES


def check_note_budget(count: int, n_frames: int) -> None:
    """Stop note creation the moment it passes its budget: a typed error, no partial result."""
    budget = note_budget(n_frames)
    if count > budget:
        raise OutputTooLargeError(
            f"the transcription passed its output budget of {budget:,} notes for "
            f"{n_frames / c.FRAMES_PER_SECOND:.1f} s of audio ({c.MAX_NOTES_PER_AUDIO_SECOND} per second, at least "
            f"{c.MIN_NOTE_BUDGET:,}): raise onset_threshold, frame_threshold or minimum_note_length_ms"
        )


def check_bend_budget(notes: list[FrameNote], n_frames: int) -> None:
    """Refuse pitch bends whose data would pass the budget, before computing any."""
    values = sum(end - start for start, end, _, _ in notes)
    budget = bend_budget(n_frames)
    if values > budget:
        raise OutputTooLargeError(
            f"pitch bends for these notes would be {values:,} values, over the budget of {budget:,} "
            f"({c.MAX_BEND_VOICES} sounding notes on average): leave include_pitch_bends and "
            "multiple_pitch_bends off, or raise the thresholds or minimum_note_length_ms"
        )


@dataclass(frozen=True)
class NoteSettings:
    """Note creation's parameters, by the names `notes_from_activations` takes (`**asdict(settings)`),
    shared by the in-memory and the on-disk paths."""

    onset_threshold: float
    frame_threshold: float
    min_note_frames: int
    min_hz: float | None
    max_hz: float | None
    melodia_trick: bool


def notes_from_activations(
    frames: np.ndarray,
    onsets: np.ndarray,
    *,
    onset_threshold: float,
    frame_threshold: float,
    min_note_frames: int,
    min_hz: float | None,
    max_hz: float | None,
    melodia_trick: bool,
    infer_onsets: bool = True,
) -> list[FrameNote]:
    """Note events in frames. `frames` and `onsets` are modified in place."""
    n_frames = frames.shape[0]
    if n_frames == 0:
        return []
    constrain_frequency(onsets, frames, min_hz, max_hz)
    onset_map = inferred_onsets(onsets, frames) if infer_onsets else onsets
    onset_times, onset_pitches = onset_peaks(onset_map, onset_threshold)
    del onset_map

    remaining = frames.astype(np.float64)
    notes: list[FrameNote] = []
    last = n_frames - 1
    for start, pitch in zip(onset_times.tolist(), onset_pitches.tolist()):
        if start >= last:
            continue
        column = remaining[:, pitch]
        i, quiet = start + 1, 0
        while i < last and quiet < ENERGY_TOLERANCE:
            quiet = quiet + 1 if column[i] < frame_threshold else 0
            i += 1
        i -= quiet
        if i - start <= min_note_frames:
            continue
        remaining[start:i, pitch] = 0
        if pitch < c.MAX_PITCH_INDEX:
            remaining[start:i, pitch + 1] = 0
        if pitch > 0:
            remaining[start:i, pitch - 1] = 0
        notes.append((start, i, pitch + c.MIDI_OFFSET, np.mean(frames[start:i, pitch])))
        check_note_budget(len(notes), n_frames)

    if melodia_trick:
        notes.extend(_melodia_notes(frames, remaining, frame_threshold, min_note_frames, already=len(notes)))
    return notes


def _melodia_notes(
    frames: np.ndarray, remaining: np.ndarray, frame_threshold: float, min_note_frames: int, *, already: int
) -> list[FrameNote]:
    """`already`: the onset notes made before, counted against the same budget."""
    n_frames, n_pitches = remaining.shape
    flat = remaining.reshape(-1)
    candidates = np.flatnonzero(flat > frame_threshold)
    # (-energy, flat index): the heap's order is argmax's order, ties to the lowest index.
    heap = list(zip((-flat[candidates]).tolist(), candidates.tolist()))
    heapq.heapify(heap)
    notes: list[FrameNote] = []
    last = n_frames - 1
    while heap:
        neg_energy, index = heapq.heappop(heap)
        if flat[index] != -neg_energy:
            continue  # consumed since it was queued (energy only ever drops to zero)
        i_mid, pitch = divmod(index, n_pitches)
        remaining[i_mid, pitch] = 0
        lo_p = pitch - 1 if pitch > 0 else pitch
        hi_p = pitch + 2 if pitch < c.MAX_PITCH_INDEX else pitch + 1

        i, quiet = i_mid + 1, 0
        while i < last and quiet < ENERGY_TOLERANCE:
            quiet = quiet + 1 if remaining[i, pitch] < frame_threshold else 0
            remaining[i, lo_p:hi_p] = 0
            i += 1
        i_end = i - 1 - quiet

        i, quiet = i_mid - 1, 0
        while i > 0 and quiet < ENERGY_TOLERANCE:
            quiet = quiet + 1 if remaining[i, pitch] < frame_threshold else 0
            remaining[i, lo_p:hi_p] = 0
            i -= 1
        i_start = i + 1 + quiet

        if i_end - i_start <= min_note_frames:
            continue
        notes.append((i_start, i_end, pitch + c.MIDI_OFFSET, np.mean(frames[i_start:i_end, pitch])))
        check_note_budget(already + len(notes), n_frames)
    return notes


def pitch_bends(contours: np.ndarray, notes: list[FrameNote]) -> list[tuple[int, ...]]:
    """Per-frame bend of each note, in 1/3 semitones, from the contour map."""
    tol = PITCH_BEND_TOLERANCE_BINS
    width = 2 * tol + 1
    n = np.arange(width) - (width - 1) / 2.0
    gaussian = np.exp(-0.5 * (n / 5.0) ** 2)
    bends: list[tuple[int, ...]] = []
    for start, end, midi_pitch, _ in notes:
        hz = 440.0 * 2.0 ** ((midi_pitch - 69) / 12.0)
        freq_idx = int(np.round(12.0 * c.CONTOUR_BINS_PER_SEMITONE * np.log2(hz / c.BASE_FREQUENCY_HZ)))
        lo = max(freq_idx - tol, 0)
        hi = min(c.N_CONTOUR_BINS, freq_idx + tol + 1)
        window = gaussian[max(0, tol - freq_idx) : width - max(0, freq_idx - (c.N_CONTOUR_BINS - tol - 1))]
        sub = contours[start:end, lo:hi] * window
        shift = tol - max(0, tol - freq_idx)
        bends.append(tuple((np.argmax(sub, axis=1) - shift).tolist()))
    return bends

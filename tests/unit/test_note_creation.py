"""Note creation: the optimised steps equal the straightforward formulation."""

from __future__ import annotations

import numpy as np
import pytest

from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.notes import (
    frame_times,
    inferred_onsets,
    notes_from_activations,
    onset_peaks,
    pitch_bends,
)


def naive_inferred_onsets(onsets, frames, n_diff=2):
    """The published formulation: min over 1..n frame differences, rescaled, max with onsets."""
    diffs = []
    for n in range(1, n_diff + 1):
        appended = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(appended[n:, :] - appended[:-n, :])
    diff = np.min(diffs, axis=0)
    diff[diff < 0] = 0
    diff[:n_diff, :] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.max(onsets) * diff / np.max(diff)
    return np.max([onsets, diff], axis=0)


def naive_melodia(frames, remaining, frame_threshold, min_len, tol=11):
    """Greedy: repeatedly grow a note around the global maximum (argmax over the whole map)."""
    notes = []
    n_frames = remaining.shape[0]
    while np.max(remaining) > frame_threshold:
        i_mid, f = np.unravel_index(np.argmax(remaining), remaining.shape)
        remaining[i_mid, f] = 0
        i, k = i_mid + 1, 0
        while i < n_frames - 1 and k < tol:
            k = k + 1 if remaining[i, f] < frame_threshold else 0
            remaining[i, max(f - 1, 0) : min(f + 2, 88)] = 0
            i += 1
        i_end = i - 1 - k
        i, k = i_mid - 1, 0
        while i > 0 and k < tol:
            k = k + 1 if remaining[i, f] < frame_threshold else 0
            remaining[i, max(f - 1, 0) : min(f + 2, 88)] = 0
            i -= 1
        i_start = i + 1 + k
        if i_end - i_start <= min_len:
            continue
        notes.append((int(i_start), int(i_end), int(f) + 21, float(np.mean(frames[i_start:i_end, f]))))
    return notes


def random_maps(seed, n_frames=400):
    rng = np.random.default_rng(seed)
    frames = rng.random((n_frames, 88), dtype=np.float32) ** 4
    # a few sustained notes with ties (equal values) to exercise the ordering
    for _ in range(12):
        start, pitch = int(rng.integers(0, n_frames - 50)), int(rng.integers(0, 88))
        frames[start : start + int(rng.integers(5, 50)), pitch] = np.float32(rng.choice([0.6, 0.8, 0.8]))
    onsets = (rng.random((n_frames, 88), dtype=np.float32) ** 6).astype(np.float32)
    return frames, onsets


@pytest.mark.parametrize("seed", range(5))
def test_inferred_onsets_equal_the_published_formula(seed):
    frames, onsets = random_maps(seed)
    np.testing.assert_array_equal(inferred_onsets(onsets, frames), naive_inferred_onsets(onsets, frames))


def test_inferred_onsets_of_silence_are_nan_like_the_reference():
    frames = np.zeros((50, 88), dtype=np.float32)
    onsets = np.zeros((50, 88), dtype=np.float32)
    assert np.isnan(inferred_onsets(onsets, frames)).all()
    assert np.isnan(naive_inferred_onsets(onsets, frames)).all()


@pytest.mark.parametrize("threshold", [0.5, 0.0])
def test_onset_peaks_are_strict_local_maxima_in_time(threshold):
    onsets = np.zeros((6, 88))
    onsets[2, 10] = 0.9  # peak
    onsets[3, 20] = onsets[4, 20] = 0.9  # plateau: no strict peak
    onsets[0, 30] = 0.9  # first frame never counts
    times, pitches = onset_peaks(onsets, threshold)
    selected = set(zip(times.tolist(), pitches.tolist(), strict=True))
    assert (2, 10) in selected
    assert (3, 20) not in selected or threshold <= 0
    if threshold > 0:
        assert selected == {(2, 10)}
    else:
        assert len(selected) == 6 * 88  # every cell of the peak map reaches a threshold of 0
    assert list(times) == sorted(times, reverse=True)


@pytest.mark.parametrize("seed", range(6))
def test_heap_melodia_finds_the_same_notes_as_global_argmax(seed):
    frames, onsets = random_maps(seed)
    ours = notes_from_activations(
        frames.copy(),
        onsets.copy(),
        onset_threshold=2.0,
        frame_threshold=0.3,
        min_note_frames=3,
        min_hz=None,
        max_hz=None,
        melodia_trick=True,
    )
    expected = naive_melodia(frames, frames.astype(np.float64), 0.3, 3)
    assert [(s, e, p) for s, e, p, _ in ours] == [(s, e, p) for s, e, p, _ in expected]
    assert [float(a) for *_, a in ours] == [a for *_, a in expected]


def test_onset_notes_follow_frame_energy_and_respect_minimum_length():
    frames = np.zeros((200, 88), dtype=np.float32)
    onsets = np.zeros((200, 88), dtype=np.float32)
    frames[20:80, 48] = 0.9  # a long note at MIDI 69
    onsets[20, 48] = 0.95
    frames[100:105, 30] = 0.9  # too short
    onsets[100, 30] = 0.95
    notes = notes_from_activations(
        frames,
        onsets,
        onset_threshold=0.5,
        frame_threshold=0.3,
        min_note_frames=11,
        min_hz=None,
        max_hz=None,
        melodia_trick=False,
    )
    assert [(s, e, p) for s, e, p, _ in notes] == [(20, 80, 69)]


def test_frequency_limits_remove_notes_outside_them():
    frames = np.zeros((200, 88), dtype=np.float32)
    onsets = np.zeros((200, 88), dtype=np.float32)
    for index in (10, 48, 80):  # MIDI 31, 69, 101
        frames[20:80, index] = 0.9
        onsets[20, index] = 0.95
    notes = notes_from_activations(
        frames,
        onsets,
        onset_threshold=0.5,
        frame_threshold=0.3,
        min_note_frames=11,
        min_hz=100.0,
        max_hz=2000.0,
        melodia_trick=True,
    )
    assert {p for _, _, p, _ in notes} == {69}


def test_frame_times_follow_the_hop_and_undo_window_drift():
    times = frame_times(400)
    assert times[0] == 0.0
    assert times[1] == pytest.approx(256 / 22050)
    step_in_window = times[171] - times[170]
    step_across = times[172] - times[171]
    assert step_across < step_in_window  # each new window shifts back by its offset


def test_pitch_bends_point_at_the_contour_peak():
    contours = np.zeros((50, c.N_CONTOUR_BINS), dtype=np.float32)
    centre = 144  # A4 = 440 Hz = 4 octaves above the 27.5 Hz base bin, 36 bins per octave
    contours[:, centre] = 0.5
    contours[25:, centre + 2] = 0.9  # upward bend of 2/3 semitone in the second half
    (bends,) = pitch_bends(contours, [(0, 50, 69, 0.8)])
    assert set(bends[:25]) == {0} and set(bends[25:]) == {2}


def test_frequency_limits_outside_the_piano_range_keep_or_drop_everything():
    frames = np.zeros((200, 88), dtype=np.float32)
    onsets = np.zeros((200, 88), dtype=np.float32)
    for index in (0, 48, 87):  # MIDI 21 (A0), 69, 108 (C8)
        frames[20:80, index] = 0.9
        onsets[20, index] = 0.95
    kept = notes_from_activations(
        frames.copy(),
        onsets.copy(),
        onset_threshold=0.5,
        frame_threshold=0.3,
        min_note_frames=11,
        min_hz=10.0,
        max_hz=20_000.0,
        melodia_trick=True,
    )
    assert {p for _, _, p, _ in kept} == {21, 69, 108}
    dropped = notes_from_activations(
        frames.copy(),
        onsets.copy(),
        onset_threshold=0.5,
        frame_threshold=0.3,
        min_note_frames=11,
        min_hz=None,
        max_hz=15.0,
        melodia_trick=True,
    )
    assert dropped == []

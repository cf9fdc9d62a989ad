"""A transcription is bounded by what it produces: degenerate parameters are refused, note creation stops at
its budget on both the in-memory and the on-disk path, and every step after the network is n log n."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from contract.validation import ConfigError
from inference.config import InferenceParameters
from inference.errors import OutputTooLargeError
from inference.midi import drop_overlapping_bends, notes_to_midi
from inference.models.base import NoteEvent
from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.file_notes import notes_from_files
from inference.models.basic_pitch.map_files import RowFile
from inference.models.basic_pitch.notes import (
    NoteSettings,
    bend_budget,
    check_bend_budget,
    note_budget,
    notes_from_activations,
)
from inference.testing.pairwise import pairwise_drop_overlapping_bends


def random_notes(seed: int, count: int, *, bends: bool) -> list[NoteEvent]:
    rng = random.Random(seed)
    notes = []
    for _ in range(count):
        start = round(rng.uniform(0, 20), rng.choice([1, 2, 3]))  # coarse times make ties and touching notes
        length = rng.choice([0.0, 0.05, 0.1, 0.5, 2.0, rng.uniform(0, 5)])
        notes.append(
            NoteEvent(
                start, start + length, rng.randint(21, 108), 0.5, (1, 0, -1) if bends and rng.random() < 0.8 else None
            )
        )
    return notes


@pytest.mark.parametrize("seed", range(40))
def test_the_sweep_drops_the_same_bends_as_the_pairwise_reference(seed: int) -> None:
    notes = random_notes(seed, random.Random(seed).choice([0, 1, 2, 5, 30, 200]), bends=True)
    assert drop_overlapping_bends(notes) == pairwise_drop_overlapping_bends(notes)


def test_without_bends_nothing_is_compared() -> None:
    notes = random_notes(7, 500, bends=False)
    assert drop_overlapping_bends(notes) == sorted(notes, key=lambda n: (n.start_s, n.end_s, n.pitch))


def test_a_hundred_thousand_overlapping_notes_with_bends_make_a_midi_file() -> None:
    """What the pairwise form could not finish (every note overlapping every other) is one sort now."""
    notes = [NoteEvent(i * 1e-4, 600.0, 21 + i % 88, 0.5, (0, 1)) for i in range(100_000)]
    midi = notes_to_midi(notes)
    assert midi.startswith(b"MThd")
    assert all(n.pitch_bends is None for n in drop_overlapping_bends(notes))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("onset_threshold", 0.0),
        ("onset_threshold", -0.0),
        ("onset_threshold", float("1e-400")),  # 0.0 once parsed
        ("frame_threshold", 0.0),
        ("frame_threshold", 0.01),
        ("onset_threshold", 1.0),
        ("minimum_note_length_ms", 0.0),
        ("minimum_note_length_ms", 5.0),
    ],
)
def test_degenerate_parameters_are_refused_naming_the_range(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as refused:
        InferenceParameters().with_overrides(**{field: value})
    message = str(refused.value)
    assert field in message and ("0.05" in message or "10" in message), message


def test_the_range_edges_are_accepted() -> None:
    InferenceParameters(onset_threshold=0.05, frame_threshold=0.95, minimum_note_length_ms=10.0)


def test_budgets_grow_with_the_audio() -> None:
    minute = 60 * c.FRAMES_PER_SECOND
    assert note_budget(0) == c.MIN_NOTE_BUDGET
    assert note_budget(minute) == c.MIN_NOTE_BUDGET + 60 * c.MAX_NOTES_PER_AUDIO_SECOND
    assert bend_budget(minute) > bend_budget(0)


def everything_is_a_note(n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Activations a threshold near 0 turns into notes everywhere: noise on every pitch, as white noise or
    thresholds of 0 gave the model."""
    rng = np.random.default_rng(5)
    frames = rng.random((n_frames, c.N_PITCHES), dtype=np.float32)
    onsets = rng.random((n_frames, c.N_PITCHES), dtype=np.float32)
    return frames, onsets


SETTINGS = NoteSettings(
    onset_threshold=0.05, frame_threshold=0.05, min_note_frames=1, min_hz=None, max_hz=None, melodia_trick=True
)


def test_note_creation_stops_at_its_budget_in_memory() -> None:
    frames, onsets = everything_is_a_note(10 * c.FRAMES_PER_SECOND)
    with pytest.raises(OutputTooLargeError, match=r"output budget of 2,000 notes for 10\.0 s"):
        notes_from_activations(frames, onsets, **asdict(SETTINGS))


def test_note_creation_stops_at_its_budget_on_disk(tmp_path: Path) -> None:
    frames, onsets = everything_is_a_note(10 * c.FRAMES_PER_SECOND)
    note_map = RowFile(tmp_path / "note.f32", c.N_PITCHES)
    onset_map = RowFile(tmp_path / "onset.f32", c.N_PITCHES)
    try:
        note_map.append(frames)
        onset_map.append(onsets)
        with pytest.raises(OutputTooLargeError, match="output budget"):
            notes_from_files(note_map, onset_map, SETTINGS, tmp_path)
    finally:
        note_map.close()
        onset_map.close()


def test_a_transcription_inside_the_budget_is_untouched() -> None:
    frames, onsets = everything_is_a_note(10 * c.FRAMES_PER_SECOND)
    frames[:, 3:] = 0.0  # three pitches of noise: notes, but fewer than the budget
    onsets[:, 3:] = 0.0
    notes = notes_from_activations(frames, onsets, **asdict(SETTINGS))
    assert 0 < len(notes) <= note_budget(frames.shape[0])


def test_pitch_bends_over_their_budget_are_refused_before_any_is_computed() -> None:
    n_frames = 10 * c.FRAMES_PER_SECOND
    sustained = [(0, n_frames, 21 + p % 88, 0.5) for p in range(c.MAX_BEND_VOICES + c.MIN_NOTE_BUDGET // 8)]
    with pytest.raises(OutputTooLargeError, match="include_pitch_bends"):
        check_bend_budget(sustained, n_frames)
    check_bend_budget(sustained[:1], n_frames)

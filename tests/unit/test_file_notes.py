"""Note creation over maps on disk equals the in-memory algorithm, boundaries everywhere.

Chunks of a few rows and scan blocks of three cells put an internal boundary inside almost every
note; the maps hold sustained notes (some far longer than any chunk), chords, repeated notes, gaps
shorter and longer than the tolerance, silence and ties.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch import file_notes
from inference.models.basic_pitch.file_notes import notes_from_files, pitch_bends_from_file
from inference.models.basic_pitch.map_files import ColumnFile, RowFile
from inference.models.basic_pitch.notes import NoteSettings, notes_from_activations, pitch_bends


@pytest.fixture(autouse=True)
def no_output_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """These maps are noise-dense on purpose (more notes than any budget allows): the equality under test is
    the algorithm's; the budget has its own tests (test_output_budget.py)."""
    monkeypatch.setattr(c, "MAX_NOTES_PER_AUDIO_SECOND", 10**9)


def musical_maps(seed: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame and onset maps shaped like the model's: notes with attacks, sustains and decays."""
    rng = np.random.default_rng(seed)
    frames = (rng.random((n_frames, c.N_PITCHES), dtype=np.float32) ** 6) * np.float32(0.5)
    onsets = (rng.random((n_frames, c.N_PITCHES), dtype=np.float32) ** 8) * np.float32(0.6)
    silence = slice(n_frames // 3, n_frames // 3 + 40)
    for _ in range(n_frames // 6):
        pitch = int(rng.integers(20, 70))
        start = int(rng.integers(0, n_frames - 5))
        length = int(rng.choice([4, 12, 30, 90, 400, n_frames]))
        end = min(start + length, n_frames)
        level = np.float32(rng.uniform(0.35, 0.95))
        body = level * np.linspace(1.0, 0.55, end - start, dtype=np.float32)
        gaps = rng.random(end - start) < 0.08  # short dips below the threshold inside the note
        body[gaps] = np.float32(0.1)
        for chord_step in (0, 4, 7) if rng.random() < 0.3 else (0,):
            p = min(pitch + chord_step, c.N_PITCHES - 1)
            frames[start:end, p] = np.maximum(frames[start:end, p], body)
            onsets[start, p] = max(onsets[start, p], np.float32(rng.uniform(0.4, 1.0)))
    frames[silence] = 0
    onsets[silence] = 0
    frames[n_frames // 2 : n_frames // 2 + 25, 40] = np.float32(0.7)  # ties: equal energies
    frames[n_frames // 2 : n_frames // 2 + 25, 60] = np.float32(0.7)
    return frames, onsets


def write_rows(path: Path, data: np.ndarray) -> RowFile:
    rows = RowFile(path, data.shape[1])
    for lo in range(0, data.shape[0], 97):  # appended in uneven blocks, as windows arrive
        rows.append(data[lo : lo + 97])
    return rows


SETTINGS = [
    NoteSettings(0.5, 0.3, 11, None, None, True),
    NoteSettings(0.3, 0.25, 3, None, None, True),
    NoteSettings(0.6, 0.4, 11, 100.0, 1200.0, True),
    NoteSettings(0.5, 0.3, 0, None, None, False),
    NoteSettings(0.0, 0.3, 11, None, None, True),  # threshold 0: every non-peak cell starts a note too
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"on{s.onset_threshold}-fr{s.frame_threshold}")
@pytest.mark.parametrize("seed, n_frames, chunk_rows", [(1, 900, 7), (2, 1500, 64), (3, 600, 1), (4, 3, 2)])
def test_notes_from_files_equal_the_in_memory_notes(
    tmp_path, monkeypatch, settings, seed, n_frames, chunk_rows
) -> None:
    monkeypatch.setattr(file_notes, "SCAN_BLOCK", 3)
    frames, onsets = musical_maps(seed, n_frames)
    expected = notes_from_activations(frames.copy(), onsets.copy(), **asdict(settings))
    ours = notes_from_files(
        write_rows(tmp_path / "note.f32", frames),
        write_rows(tmp_path / "onset.f32", onsets),
        settings,
        tmp_path,
        chunk_rows=chunk_rows,
    )
    assert ours == expected
    assert all(type(a) is type(b) for a, b in zip(ours, expected, strict=True))
    if n_frames > 100:  # the case is meaningful: many notes cross a chunk boundary
        crossing = [n for n in expected if n[0] // chunk_rows != (n[1] - 1) // chunk_rows]
        assert len(expected) > 20 and len(crossing) > 10


def test_a_note_longer_than_every_chunk_and_block(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(file_notes, "SCAN_BLOCK", 2)
    frames = np.zeros((2000, c.N_PITCHES), dtype=np.float32)
    onsets = np.zeros_like(frames)
    frames[100:1900, 50] = np.float32(0.8)
    frames[300:1200:37, 50] = np.float32(0.05)  # dips shorter than the tolerance
    onsets[100, 50] = np.float32(0.9)
    frames[500:1500, 51] = np.float32(0.9)  # a neighbour the melodia step would find first
    settings = NoteSettings(0.5, 0.3, 11, None, None, True)
    expected = notes_from_activations(frames.copy(), onsets.copy(), **asdict(settings))
    ours = notes_from_files(
        write_rows(tmp_path / "n", frames), write_rows(tmp_path / "o", onsets), settings, tmp_path, chunk_rows=5
    )
    assert ours == expected
    assert max(end - start for start, end, *_ in ours) >= 1000  # 200 chunks, 500 scan blocks


def test_pitch_bends_from_the_contour_file_equal_the_in_memory_ones(tmp_path) -> None:
    rng = np.random.default_rng(7)
    contour = rng.random((700, c.N_CONTOUR_BINS), dtype=np.float32)
    notes = [(0, 5, 21, 0.5), (10, 400, 60, 0.7), (650, 699, 108, 0.4), (300, 301, 90, 0.2)]
    assert pitch_bends_from_file(write_rows(tmp_path / "c", contour), notes) == pitch_bends(contour, notes)


def test_column_file_reads_zeroes_and_copies(tmp_path) -> None:
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    columns = ColumnFile(tmp_path / "m", 10, 4)
    columns.write_rows(0, data[:6])
    columns.write_rows(6, data[6:])
    assert np.array_equal(columns.rows(0, 10), data)
    copy = columns.copy_to(tmp_path / "m2")
    columns.zero(range(2, 3), 3, 7)
    assert columns.column(2, 0, 10).tolist() == [2, 6, 10, 0, 0, 0, 0, 30, 34, 38]
    assert np.array_equal(copy.rows(0, 10), data)
    assert columns.value(1, 9) == 37.0 and columns.column(0, 8, 50).tolist() == [32, 36]

"""A streamed file transcribes to exactly the notes of the in-memory path, boundaries forced everywhere.

Small decode blocks, map chunks of a few frames and scan blocks of three cells put an internal
boundary inside nearly every note; the audio holds notes far longer than any chunk, chords, repeated
notes and silence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from inference import audio
from inference.models.basic_pitch import file_notes
from inference.testing import signals
from inference.testing.signals import Note
from inference.transcriber import Transcriber


def long_notes_chords_and_silence(path: Path) -> Path:
    notes = [
        Note(0.2, 11.0, 48, 0.9),  # a bass note of 11 s: ~950 frames, longer than any chunk here
        *[Note(0.5 + 0.7 * k, 0.6, 60 + (k % 7), 0.8) for k in range(8)],
        *[Note(3.0, 2.5, p, 0.7) for p in (64, 67, 71)],  # a chord
        *[Note(9.0 + 0.3 * k, 0.25, 72, 0.8) for k in range(6)],  # repeated notes
    ]  # silence from 11.2 s to 14 s, then a last chord
    notes += [Note(14.0, 1.5, p, 0.8) for p in (55, 59, 62)]
    mono = signals.render(notes, 44100, 16.0, seed=3)
    sf.write(path, np.stack([mono, mono * 0.8], axis=1), 44100, subtype="PCM_16")
    return path


@pytest.fixture()
def small_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "_BLOCK_FRAMES", 5_000)
    monkeypatch.setattr(file_notes, "CHUNK_ROWS", 37)
    monkeypatch.setattr(file_notes, "SCAN_BLOCK", 3)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"include_pitch_bends": True}, {"onset_threshold": 0.3, "frame_threshold": 0.2, "minimum_note_length_ms": 30}],
    ids=["defaults", "pitch-bends", "low-thresholds"],
)
def test_streamed_notes_equal_in_memory_notes(transcriber: Transcriber, tmp_path, small_boundaries, overrides):
    path = long_notes_chords_and_silence(tmp_path / "piece.wav")
    parameters = transcriber.config.inference.with_overrides(**overrides)
    in_memory = transcriber.transcribe_decoded(transcriber.decode(path), parameters)
    streamed = transcriber.transcribe_file(path, parameters, scratch_dir=tmp_path)
    assert streamed.to_dict() == in_memory.to_dict()
    assert streamed.to_midi() == in_memory.to_midi()
    assert len(streamed.notes) > 15
    longest = max(n.end_s - n.start_s for n in streamed.notes)
    assert longest > 37 * 3 / 86, "a note spans several chunks"
    assert list(tmp_path.iterdir()) == [path], "the scratch folder is removed"


def test_the_bench_piece_streams_to_the_same_notes(transcriber: Transcriber, tmp_path):
    """Default block sizes, a minute of dense polyphony."""
    path = tmp_path / "minute.wav"
    sf.write(path, signals.render(signals.piece(5, 60), 22050, 60, seed=5), 22050, subtype="FLOAT")
    assert (
        transcriber.transcribe_file(path).to_dict()
        == transcriber.transcribe_decoded(transcriber.decode(path)).to_dict()
    )


def test_a_file_longer_than_its_limit_is_refused_as_it_streams(transcriber: Transcriber, tmp_path):
    from inference.errors import AudioTooLongError

    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(22050 * 5, dtype=np.float32), 22050)
    with pytest.raises(AudioTooLongError):
        transcriber.transcribe_file(path, max_duration_s=2.0)

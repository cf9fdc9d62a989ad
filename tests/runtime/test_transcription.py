"""The real model end to end on small generated signals."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import mido
import numpy as np
import pytest

from inference.config import InferenceParameters
from inference.models import AudioToNotesModel
from inference.testing.signals import Note, melody, render, sine
from tests.support.audio import wav_bytes

pytestmark = pytest.mark.model
REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "result-schema.json").read_text())


def test_basic_pitch_implements_the_model_interface(transcriber):
    assert isinstance(transcriber.model, AudioToNotesModel)
    description = transcriber.model.describe()
    assert (description.name, description.version, description.sample_rate) == ("basic-pitch", "0.4.0", 22050)


@pytest.mark.parametrize("pitch", [57, 69, 76])
def test_a_sine_gives_its_midi_note(transcriber, pitch):
    result = transcriber.transcribe(wav_bytes(sine(pitch, 44100, 2.0), 44100))
    assert result.notes, "no note found"
    assert {n.pitch for n in result.notes} == {pitch}
    assert min(n.start_s for n in result.notes) < 0.1 and max(n.end_s for n in result.notes) > 1.8


def test_silence_gives_no_notes(transcriber):
    assert transcriber.transcribe(wav_bytes(np.zeros(44100, dtype=np.float32), 44100)).notes == []


def test_a_chord_gives_its_three_notes(transcriber):
    chord = [Note(0.1, 1.5, p) for p in (60, 64, 67)]
    result = transcriber.transcribe(wav_bytes(render(chord, 44100, 2.0), 44100))
    # the model may add a weaker, shorter octave harmonic; the chord's notes span the whole chord
    assert {n.pitch for n in result.notes if n.end_s - n.start_s > 1.2} == {60, 64, 67}


def test_a_melody_is_found_note_by_note(transcriber):
    notes = melody(seed=3, duration_s=8.0)
    result = transcriber.transcribe(wav_bytes(render(notes, 22050, 8.0), 22050))
    found = [(n.start_s, n.pitch) for n in result.notes]
    hits = sum(any(p == note.pitch and abs(s - note.start_s) < 0.05 for s, p in found) for note in notes)
    assert hits / len(notes) >= 0.9, (hits, len(notes))


def test_result_json_follows_the_documented_schema(transcriber):
    params = InferenceParameters(include_pitch_bends=True)
    result = transcriber.transcribe(wav_bytes(sine(69, 16000, 1.0), 16000), params)
    document = result.to_dict()
    jsonschema.validate(document, SCHEMA)
    assert document["audio"] == {"duration_s": 1.0, "sample_rate": 16000, "channels": 1, "format": "WAV"}
    assert document["model"]["sha256"] == transcriber.config.model.sha256
    assert all("pitch_bends" in n for n in document["notes"])
    without = transcriber.transcribe(wav_bytes(sine(69, 16000, 1.0), 16000)).to_dict()
    assert all("pitch_bends" not in n for n in without["notes"])


def test_midi_file_holds_the_notes(transcriber):
    chord = [Note(0.1, 1.0, p) for p in (60, 64, 67)]
    result = transcriber.transcribe(wav_bytes(render(chord, 44100, 1.5), 44100))
    midi = mido.MidiFile(file=io.BytesIO(result.to_midi()))
    ons = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    assert sorted(m.note for m in ons) == sorted(n.pitch for n in result.notes)
    assert midi.ticks_per_beat == 220
    assert sorted((m.note, m.velocity) for m in ons) == sorted((n.pitch, n.velocity) for n in result.notes)


def test_parameters_change_the_result(transcriber):
    audio = wav_bytes(render(melody(seed=4, duration_s=6.0), 44100, 6.0), 44100)
    default = transcriber.transcribe(audio)
    limited = transcriber.transcribe(audio, InferenceParameters(maximum_frequency_hz=400.0))
    assert all(n.pitch <= 68 for n in limited.notes)
    assert len(limited.notes) < len(default.notes)


def test_cli_transcribes_to_json_and_midi(tmp_path, model_artifact):
    audio = tmp_path / "a4.wav"
    audio.write_bytes(wav_bytes(sine(69, 44100, 1.5), 44100))
    out_json, out_midi = tmp_path / "a4.json", tmp_path / "a4.mid"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "inference",
            "transcribe",
            str(audio),
            "--json",
            str(out_json),
            "--midi",
            str(out_midi),
            "--onset-threshold",
            "0.6",
            "--pitch-bends",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"INFERENCE_MODELS_DIR": str(model_artifact.parents[2]), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    document = json.loads(out_json.read_text())
    assert document["parameters"]["onset_threshold"] == 0.6
    assert document["notes"][0]["pitch"] == 69
    assert mido.MidiFile(str(out_midi)).tracks


def test_cli_reports_bad_audio_without_a_traceback(tmp_path, model_artifact):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    run = subprocess.run(
        [sys.executable, "-m", "inference", "transcribe", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"INFERENCE_MODELS_DIR": str(model_artifact.parents[2]), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2
    assert "UnsupportedAudioFormatError" in run.stderr and "Traceback" not in run.stderr

"""Silero VAD: the reference's segments, ground truth by construction, streaming, its place in the registry.

Ground truth: sentences spoken by espeak-ng at known times between silence, noise and music
(`inference.testing.speech`). The reference: silero-vad's own post-processing from the pinned wheel
(`tests/support/vad_reference.py`); its model loop needs torch, which does not install here.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from contract.validation import ConfigError
from inference.config import ModelSettings, load_config
from inference.models.registry import get_spec, model_names
from inference.models.silero_vad.model import SileroVadModel, VadOutput
from inference.models.silero_vad.parameters import SAMPLE_RATE, VadParameters
from inference.models.silero_vad.segments import speech_segments
from inference.testing.speech import (
    SpeechScene,
    boundary_errors,
    have_espeak,
    speech_scene,
    speech_time_scores,
)
from inference.transcriber import Transcriber
from tests.support.components import missing
from tests.support.vad_reference import reference_post_processing

SCENES = (0, 1, 2)
PARAMETER_GRID: list[dict[str, float]] = [
    {},
    {"threshold": 0.3},
    {"threshold": 0.7, "speech_pad_ms": 0},
    {"min_speech_duration_ms": 1000, "min_silence_duration_ms": 500},
    {"min_silence_duration_ms": 0, "speech_pad_ms": 200},
    {"threshold": 0.5, "min_speech_duration_ms": 0, "min_silence_duration_ms": 2000, "speech_pad_ms": 400},
]


@pytest.fixture(scope="module")
def vad(model_artifact: Path) -> Transcriber:
    return Transcriber(load_config(environ={}), model_name="silero-vad")


@pytest.fixture(scope="module")
def scenes() -> list[SpeechScene]:
    if not have_espeak():
        missing("espeak-ng is not installed (make synthesizer installs it)")
    return [speech_scene(seed) for seed in SCENES]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[dict[str, Any]]]:
    try:
        return reference_post_processing(tmp_path_factory.mktemp("silero-wheel"))
    except Exception as exc:  # pip cannot reach PyPI
        missing(f"the pinned silero-vad wheel could not be downloaded: {exc}")


def ours(probabilities: np.ndarray, samples: int, **parameters: float) -> list[tuple[int, int]]:
    chosen = VadParameters(**parameters)
    return speech_segments(
        probabilities.tolist(),
        audio_samples=samples,
        sample_rate=SAMPLE_RATE,
        threshold=chosen.threshold,
        min_speech_duration_ms=chosen.min_speech_duration_ms,
        min_silence_duration_ms=chosen.min_silence_duration_ms,
        speech_pad_ms=chosen.speech_pad_ms,
    )


def theirs(reference: Callable[..., list[dict[str, Any]]], probabilities: np.ndarray, samples: int, **p: float):
    found = reference(probabilities.tolist(), sampling_rate=SAMPLE_RATE, audio_length_samples=samples, **p)
    return [(s["start"], s["end"]) for s in found]


def probabilities_of(vad: Transcriber, scene: SpeechScene) -> tuple[np.ndarray, int]:
    model = vad.model
    assert isinstance(model, SileroVadModel)
    return model.probabilities([scene.samples])


@pytest.mark.parametrize("parameters", PARAMETER_GRID, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_segments_equal_the_wheels_own_post_processing_on_speech(
    vad: Transcriber, scenes: list[SpeechScene], reference: Callable[..., Any], parameters: dict[str, float]
) -> None:
    for scene in scenes:
        probabilities, samples = probabilities_of(vad, scene)
        expected = theirs(reference, probabilities, samples, **parameters)
        assert expected, "the reference finds speech in every scene"
        assert ours(probabilities, samples, **parameters) == expected


def test_segments_equal_the_reference_on_adversarial_probabilities(reference: Callable[..., Any]) -> None:
    """Flicker around both thresholds, speech at the first and last window, very short and empty input."""
    rng = np.random.default_rng(7)
    cases = [rng.uniform(0, 1, n).astype(np.float32) for n in (1, 2, 17, 400)]
    cases += [np.clip(np.repeat(rng.uniform(0.2, 0.8, 60), 5), 0, 1).astype(np.float32)]
    cases += [np.ones(30, dtype=np.float32), np.zeros(30, dtype=np.float32)]
    for probabilities, parameters in itertools.product(cases, PARAMETER_GRID):
        samples = len(probabilities) * 512 - 100
        assert ours(probabilities, samples, **parameters) == theirs(reference, probabilities, samples, **parameters)


def test_speech_is_found_where_it_was_placed(vad: Transcriber, scenes: list[SpeechScene]) -> None:
    """Every utterance found; speech time precision and recall >= 0.9; starts within 250 ms; ends within
    250 ms where silence follows. Where noise or music follows, the model's probability decays more
    slowly (its own hangover, the same segments as the reference's): ends within 500 ms there."""
    for scene in scenes:
        document = vad.transcribe(scene.wav_bytes()).to_dict()
        found = [(s["start_s"], s["end_s"]) for s in document["segments"]]
        precision, recall = speech_time_scores(scene.speech, found, scene.duration_s)
        assert precision >= 0.9 and recall >= 0.9, (precision, recall)
        assert len(found) == len(scene.speech)
        errors = boundary_errors(scene.speech, found)
        starts, ends = errors[0::2], errors[1::2]
        assert max(starts) <= 0.25, starts
        for end, following in zip(ends, scene.gaps[1:], strict=True):
            assert end <= (0.25 if following == "silence" else 0.5), (end, following)
        assert document["speech_ratio"] == pytest.approx(document["speech_s"] / scene.duration_s, abs=1e-5)


def test_a_stream_in_blocks_of_any_size_gives_the_same_segments(vad: Transcriber, scenes: list[SpeechScene]) -> None:
    model = vad.model
    assert isinstance(model, SileroVadModel)
    scene = scenes[0]
    whole, samples = model.probabilities([scene.samples])
    sizes = itertools.cycle([1, 511, 512, 513, 7919, 48_000])
    blocks, start = [], 0
    while start < scene.samples.shape[0]:
        size = next(sizes)
        blocks.append(scene.samples[start : start + size])
        start += size
    streamed, streamed_samples = model.probabilities(iter(blocks))
    assert streamed_samples == samples and np.array_equal(streamed, whole)
    parameters = VadParameters()
    assert model.predict_stream(iter(blocks), parameters, Path(".")) == model.predict(scene.samples, parameters)


def test_a_file_streams_to_the_same_document_as_bytes(
    vad: Transcriber, scenes: list[SpeechScene], tmp_path: Path
) -> None:
    scene = scenes[1]
    path = tmp_path / "scene.flac"
    sf.write(path, scene.samples, scene.sample_rate, format="FLAC")
    assert vad.transcribe(path).to_dict() == vad.transcribe(path.read_bytes()).to_dict()


def test_any_sample_rate_is_resampled_to_16_khz(vad: Transcriber, scenes: list[SpeechScene]) -> None:
    import soxr

    scene = scenes[2]
    buffer = io.BytesIO()
    sf.write(buffer, soxr.resample(scene.samples, SAMPLE_RATE, 44_100), 44_100, format="WAV")
    document = vad.transcribe(buffer.getvalue()).to_dict()
    assert document["audio"]["sample_rate"] == 44_100
    found = [(s["start_s"], s["end_s"]) for s in document["segments"]]
    precision, recall = speech_time_scores(scene.speech, found, scene.duration_s)
    assert len(found) == len(scene.speech) and precision >= 0.9 and recall >= 0.9


def test_silence_and_music_alone_are_not_speech(vad: Transcriber) -> None:
    from inference.testing import signals

    music = signals.render(signals.piece(3, 20.0), SAMPLE_RATE, 20.0)
    for audio in (np.zeros(SAMPLE_RATE * 5, dtype=np.float32), music):
        output = vad.model.predict(audio, VadParameters())
        assert isinstance(output, VadOutput)
        speech = sum(end - start for start, end in output.segments) / SAMPLE_RATE
        assert speech <= 0.05 * audio.shape[0] / SAMPLE_RATE


def test_the_result_has_no_midi_and_a_summary() -> None:
    spec = get_spec("silero-vad")
    assert not spec.produces_midi and spec.result_types == ("application/json",)
    assert get_spec("basic-pitch").produces_midi


@pytest.mark.parametrize(
    ("served", "message"),
    [
        ("basic-pitch,whisper", "registered models: basic-pitch, silero-vad"),
        ("silero-vad", "a list that includes model.name (basic-pitch)"),
        ("basic-pitch,basic-pitch", "distinct"),
    ],
)
def test_served_models_are_checked_when_the_config_is_read(served: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        ModelSettings(served=served)
    assert error.value.field == "model.served" and message in str(error.value)


def test_an_environment_serves_only_registered_models() -> None:
    import dataclasses

    from config.environments import DEV

    with pytest.raises(ConfigError) as error:
        dataclasses.replace(DEV, models=("basic-pitch", "wav2vec"))
    assert error.value.field == "models" and "basic-pitch, silero-vad" in str(error.value)
    assert model_names()[:2] == ("basic-pitch", "silero-vad")


def test_the_runtime_command_runs_vad_with_its_parameters(
    scenes: list[SpeechScene], tmp_path: Path, model_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from inference.cli import main

    audio, out = tmp_path / "talk.wav", tmp_path / "talk.json"
    audio.write_bytes(scenes[0].wav_bytes())
    assert (
        main(["transcribe", str(audio), "--model", "silero-vad", "--param", "threshold=0.6", "--json", str(out)]) == 0
    )
    document = json.loads(out.read_text())
    assert document["model"]["name"] == "silero-vad" and document["parameters"]["threshold"] == 0.6
    assert len(document["segments"]) == len(scenes[0].speech)
    assert main(["transcribe", str(audio), "--model", "silero-vad", "--param", "onset_threshold=0.5"]) == 2
    assert main(["transcribe", str(audio), "--model", "silero-vad", "--midi", str(tmp_path / "x.mid")]) == 2
    assert "no notes to write as MIDI" in capsys.readouterr().err

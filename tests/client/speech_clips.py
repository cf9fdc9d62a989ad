"""Speech at known times for the client and page tests (espeak-ng between silence, noise and music)."""

from __future__ import annotations

from pathlib import Path

from inference.testing.speech import SpeechScene, have_espeak, speech_scene
from tests.support.components import missing


def speech_clip(seed: int, utterances: int = 4) -> SpeechScene:
    """A scene of `utterances` sentences; skips locally, fails under `make test` without espeak-ng."""
    if not have_espeak():
        missing("espeak-ng is not installed (`make synthesizer` installs it: scripts/install_synth.sh)")
    return speech_scene(seed, utterances)


def speech_wav(path: Path, seed: int, utterances: int = 4) -> tuple[Path, SpeechScene]:
    scene = speech_clip(seed, utterances)
    path.write_bytes(scene.wav_bytes())
    return path, scene


def overlaps(truth: tuple[float, float], found: list[tuple[float, float]]) -> bool:
    return any(start < truth[1] and end > truth[0] for start, end in found)

"""Speech at known times, for judging a voice activity detector against ground truth by construction.

Sentences are spoken by espeak-ng (Debian's `espeak-ng`; `make synthesizer` installs it) in several
voices and speeds and placed between stretches of silence, noise and music, so where speech is, is
known to the sample. The truth of each utterance is the span where its own signal is above -40 dB
of its peak (espeak-ng pads its output with silence). Everything is seeded.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from inference.testing import signals

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please send the recording to the speech service before noon.",
    "Voice activity detection finds where somebody is talking.",
    "Seven silver swans swam silently seaward.",
    "We measured the latency of every request in the afternoon.",
    "Turn left at the second traffic light and keep going.",
    "Numbers like four hundred and twelve are easy to say.",
    "The meeting starts at nine and ends before lunch.",
)
VOICES = ("en-us", "en", "en-us+f3", "en+m3", "de", "fr")
GAPS = ("silence", "noise", "music")
ESPEAK = "espeak-ng"


def have_espeak() -> bool:
    return shutil.which(ESPEAK) is not None


@dataclass(frozen=True)
class SpeechScene:
    samples: np.ndarray
    """Mono float32."""
    sample_rate: int
    speech: list[tuple[float, float]]
    """Where each utterance really is (seconds), in order."""
    gaps: list[str]
    """What separates utterance i from utterance i + 1 (and precedes the first)."""

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[0] / self.sample_rate)

    def wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        sf.write(buffer, self.samples, self.sample_rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()


def speak(text: str, *, voice: str = "en-us", words_per_minute: int = 160, sample_rate: int = 16_000) -> np.ndarray:
    """espeak-ng's rendering of `text` as mono float32 at `sample_rate`."""
    result = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(words_per_minute), "--stdout", text], capture_output=True, check=True
    )
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    mono = np.asarray(audio, dtype=np.float32)
    return np.asarray(soxr.resample(mono, rate, sample_rate), dtype=np.float32) if rate != sample_rate else mono


def _active_span(audio: np.ndarray, sample_rate: int, floor_db: float = -40.0) -> tuple[int, int]:
    """First and last sample of 10 ms frames above `floor_db` of the peak frame's level."""
    hop = sample_rate // 100
    frames = audio[: audio.shape[0] // hop * hop].reshape(-1, hop)
    level = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(level / level.max()) > floor_db)
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def _gap(kind: str, seconds: float, sample_rate: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    n = int(seconds * sample_rate)
    if kind == "silence":
        return (rng.standard_normal(n) * 1e-4).astype(np.float32)
    if kind == "noise":  # steady noise ~31 dB under the speech's peak (at background_db 0)
        return (gain * rng.standard_normal(n) * 0.02).astype(np.float32)
    notes = signals.piece(int(rng.integers(1 << 30)), seconds)  # music about as loud as the speech
    return (gain * 0.5 * signals.render(notes, sample_rate, seconds, seed=int(rng.integers(1 << 30)))).astype(
        np.float32
    )


def speech_scene(
    seed: int,
    utterances: int = 8,
    *,
    sample_rate: int = 16_000,
    gap_s: tuple[float, float] = (1.0, 3.0),
    background_db: float = 0.0,
) -> SpeechScene:
    """`utterances` sentences in rotating voices and speeds, each after a gap of silence, noise or
    music lasting between gap_s seconds, ending with one more gap. `background_db` turns the noise
    and music up or down (0: music about as loud as the speech, noise ~31 dB under its peak)."""
    gain = float(10 ** (background_db / 20))
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    speech: list[tuple[float, float]] = []
    gaps: list[str] = []
    position = 0
    for i in range(utterances + 1):
        kind = GAPS[int(rng.integers(len(GAPS)))]
        gap = _gap(kind, float(rng.uniform(*gap_s)), sample_rate, rng, gain)
        parts.append(gap)
        position += gap.shape[0]
        gaps.append(kind)
        if i == utterances:
            break
        text = SENTENCES[int(rng.integers(len(SENTENCES)))]
        voice = VOICES[int(rng.integers(len(VOICES)))]
        spoken = speak(text, voice=voice, words_per_minute=int(rng.integers(130, 200)), sample_rate=sample_rate)
        start, end = _active_span(spoken, sample_rate)
        spoken = 0.7 * spoken[start:end] / (np.max(np.abs(spoken)) or 1.0)
        parts.append(spoken.astype(np.float32))
        speech.append((position / sample_rate, (position + spoken.shape[0]) / sample_rate))
        position += spoken.shape[0]
    return SpeechScene(np.concatenate(parts), sample_rate, speech, gaps)


def speech_time_scores(
    truth: list[tuple[float, float]], found: list[tuple[float, float]], duration_s: float, resolution_s: float = 0.01
) -> tuple[float, float]:
    """Precision and recall of speech time: how much found time is speech, how much speech was found."""
    n = int(np.ceil(duration_s / resolution_s))

    def mask(spans: list[tuple[float, float]]) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for start, end in spans:
            out[int(start / resolution_s) : int(np.ceil(end / resolution_s))] = True
        return out

    t, f = mask(truth), mask(found)
    precision = float((t & f).sum() / f.sum()) if f.any() else 0.0
    recall = float((t & f).sum() / t.sum()) if t.any() else 1.0
    return precision, recall


def boundary_errors(truth: list[tuple[float, float]], found: list[tuple[float, float]]) -> list[float]:
    """For every true start and end, the distance (s) to the nearest found boundary of the same kind."""
    if not found:
        return [float("inf")] * (2 * len(truth))
    starts = np.array([s for s, _ in found])
    ends = np.array([e for _, e in found])
    errors = []
    for start, end in truth:
        errors.append(float(np.min(np.abs(starts - start))))
        errors.append(float(np.min(np.abs(ends - end))))
    return errors

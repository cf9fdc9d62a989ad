"""Silero VAD's pinned artifact, sample rate and parameters: what the spec, the model and the result share.

Its own module so that the spec (the registry's entry, which loads the model lazily) and the model
and result it names all read these one way, without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.validation import number_in
from inference.pinned import PinnedArtifact

SILERO_VAD = PinnedArtifact(
    model="silero-vad",
    version="6.2.3",
    package="silero-vad",
    wheel_sha256="7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
    member="silero_vad/data/silero_vad.onnx",
    sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
)
SAMPLE_RATE = 16_000
"""The model runs on 16 kHz (it also knows 8 kHz; the decoder resamples everything to 16 kHz)."""


@dataclass(frozen=True, kw_only=True)
class VadParameters:
    """`get_speech_timestamps`' parameters, with its defaults (silero-vad 6.2.3, utils_vad.py)."""

    threshold: float = 0.5
    """A 32 ms window whose speech probability is at least this is speech; a segment ends only
    where the probability falls below threshold - 0.15 (at least 0.01)."""
    min_speech_duration_ms: float = 250.0
    """Shorter segments are dropped."""
    min_silence_duration_ms: float = 100.0
    """Silence shorter than this does not end a segment."""
    speech_pad_ms: float = 30.0
    """Each segment is widened by this on both sides (halving the gap where two would overlap)."""

    def __post_init__(self) -> None:
        number_in("silero-vad.threshold", self.threshold, 0.01, 0.99)
        number_in("silero-vad.min_speech_duration_ms", self.min_speech_duration_ms, 0.0, 60_000.0)
        number_in("silero-vad.min_silence_duration_ms", self.min_silence_duration_ms, 0.0, 60_000.0)
        number_in("silero-vad.speech_pad_ms", self.speech_pad_ms, 0.0, 10_000.0)

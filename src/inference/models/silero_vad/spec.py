"""Silero VAD in the registry: where in a recording someone speaks (speech segments and ratio)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contract.validation import number_in
from inference.models.registry import ModelSpec
from inference.pinned import PinnedArtifact

if TYPE_CHECKING:
    from inference.models.base import AudioModel, Prediction

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


def _create() -> AudioModel:
    from inference.models.silero_vad.model import SileroVadModel

    return SileroVadModel()


def _result(**parts: Any) -> Prediction:
    from inference.models.silero_vad.result import SpeechActivity

    return SpeechActivity(**parts)


SPEC = ModelSpec(
    name=SILERO_VAD.model,
    summary="voice activity detection: the segments of a recording where someone speaks, and the speech ratio",
    artifact=SILERO_VAD,
    sample_rate=SAMPLE_RATE,
    parameters=VadParameters,
    client_parameters=("threshold", "min_speech_duration_ms", "min_silence_duration_ms", "speech_pad_ms"),
    create=_create,
    result=_result,
    result_fields={
        "segments": "[{start_s, end_s}]: speech, in order, not overlapping",
        "speech_s": "seconds of speech in all segments",
        "speech_ratio": "speech_s / the audio's duration (0-1)",
    },
)

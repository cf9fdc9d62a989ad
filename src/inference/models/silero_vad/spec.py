"""Silero VAD in the registry: where in a recording someone speaks (speech segments and ratio)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inference.models.registry import ModelSpec
from inference.models.silero_vad.parameters import SAMPLE_RATE, SILERO_VAD, VadParameters

if TYPE_CHECKING:
    from inference.models.base import AudioModel, Prediction

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

"""Basic Pitch in the registry: polyphonic notes (and a MIDI file) from any instrument's audio."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inference.config import SERVER_SETTINGS, InferenceParameters
from inference.models.basic_pitch import constants as c
from inference.models.registry import ModelSpec
from inference.pinned import BASIC_PITCH

if TYPE_CHECKING:
    from inference.models.base import AudioModel, Prediction


def _create() -> AudioModel:
    from inference.models.basic_pitch.model import BasicPitchModel

    return BasicPitchModel()


def _result(**parts: Any) -> Prediction:
    from inference.transcriber import Transcription

    return Transcription(
        model=parts["model"],
        parameters=parts["parameters"],
        audio=parts["audio"],
        notes=parts["output"],
        engine=parts["engine"],
    )


SPEC = ModelSpec(
    name=BASIC_PITCH.model,
    summary="polyphonic note transcription (ICASSP 2022): notes with pitch, times, velocity; a MIDI file",
    artifact=BASIC_PITCH,
    sample_rate=c.SAMPLE_RATE,
    parameters=InferenceParameters,
    client_parameters=tuple(
        name for name in InferenceParameters.__dataclass_fields__ if name not in SERVER_SETTINGS
    ),
    result_types=("application/json", "audio/midi"),
    create=_create,
    result=_result,
    result_fields={"notes": "[{start_s, end_s, pitch, velocity, amplitude, pitch_bends?}]"},
)

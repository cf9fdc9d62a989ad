"""Models the runtime can serve, by the name used in the configuration."""

from __future__ import annotations

from inference.models.base import AudioToNotesModel, EngineSettings, EngineUsed, ModelDescription, NoteEvent

__all__ = [
    "AudioToNotesModel",
    "EngineSettings",
    "EngineUsed",
    "ModelDescription",
    "NoteEvent",
    "create_model",
    "MODEL_NAMES",
]

MODEL_NAMES = ("basic-pitch",)


def create_model(name: str) -> AudioToNotesModel:
    """An unloaded model instance for `name` (one of MODEL_NAMES)."""
    if name == "basic-pitch":
        from inference.models.basic_pitch.model import BasicPitchModel

        return BasicPitchModel()
    from contract.validation import ConfigError

    raise ConfigError("model.name", name, f"one of {MODEL_NAMES}")

"""Models the runtime can serve: the interface (`base`) and the registry of specs (`registry`)."""

from __future__ import annotations

from inference.models.base import (
    AudioModel,
    AudioToNotesModel,
    EngineSettings,
    EngineUsed,
    ModelDescription,
    NoteEvent,
    Prediction,
)

__all__ = [
    "AudioModel",
    "AudioToNotesModel",
    "EngineSettings",
    "EngineUsed",
    "ModelDescription",
    "NoteEvent",
    "Prediction",
    "create_model",
]


def create_model(name: str) -> AudioModel:
    """An unloaded model instance for a registered model `name`."""
    from inference.models.registry import get_spec

    return get_spec(name, "model.name").create()

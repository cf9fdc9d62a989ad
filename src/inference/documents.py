"""What every model's result document starts with (docs/result-schema.json): the same header, so a
client reads model.name first and knows which schema the rest follows."""

from __future__ import annotations

from typing import Any

from inference.audio import AudioInfo
from inference.models.base import EngineUsed, ModelDescription

SCHEMA_VERSION = "1"


def document_header(
    model: ModelDescription, engine: EngineUsed, parameters: dict[str, Any], audio: AudioInfo
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "runtime": engine.runtime,
            "precision": engine.precision,
            "compute": engine.compute,
        },
        "parameters": parameters,
        "audio": {
            "duration_s": round(audio.duration_s, 6),
            "sample_rate": audio.source_sample_rate,
            "channels": audio.channels,
            "format": audio.format,
        },
    }

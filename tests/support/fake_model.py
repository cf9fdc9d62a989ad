"""A small model added the way README "Add a model" says, and nowhere else: this one module.

`loudness` answers the level of each window of the audio in dB. Its "weights" are a tiny JSON file
(the window's default length), written by `write_artifact` where the runtime looks for pinned
artifacts, with its checksum pinned here as a real model's is. The fake-model test registers it
through $INFERENCE_MODEL_PLUGINS (no file of the project is edited) and serves it through the
handler, the jobs worker and the client.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contract.validation import number_in
from inference.audio import AudioInfo
from inference.documents import document_header
from inference.models.base import EngineSettings, EngineUsed, ModelDescription
from inference.models.registry import ModelSpec
from inference.pinned import PinnedArtifact

ARTIFACT_BYTES = json.dumps({"default_window_s": 1.0}).encode()
ARTIFACT = PinnedArtifact(
    model="loudness",
    version="1.0",
    package="loudness-weights",
    wheel_sha256="0" * 64,  # never fetched from PyPI: the test writes the file itself
    member="loudness/loudness.json",
    sha256=hashlib.sha256(ARTIFACT_BYTES).hexdigest(),
)
SAMPLE_RATE = 8_000


def write_artifact(models_dir: Path) -> Path:
    path = models_dir / ARTIFACT.model / ARTIFACT.version / ARTIFACT.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ARTIFACT_BYTES)
    return path


@dataclass(frozen=True, kw_only=True)
class LoudnessParameters:
    window_s: float = 1.0

    def __post_init__(self) -> None:
        number_in("loudness.window_s", self.window_s, 0.1, 10.0)


class LoudnessModel:
    sample_rate = SAMPLE_RATE

    def load(self, artifact: Path, *, sha256: str, version: str, engine: EngineSettings | None = None) -> None:
        json.loads(artifact.read_bytes())
        self._description = ModelDescription(name="loudness", version=version, sha256=sha256, sample_rate=SAMPLE_RATE)

    def describe(self) -> ModelDescription:
        return self._description

    def engine_for(self, precision: str) -> EngineUsed:
        return EngineUsed(runtime="numpy", precision="exact", compute="f32")

    def predict(self, samples: np.ndarray, parameters: LoudnessParameters) -> list[float]:
        return self.predict_stream([samples], parameters, Path("."))

    def predict_stream(
        self, blocks: Iterable[np.ndarray], parameters: LoudnessParameters, workdir: Path
    ) -> list[float]:
        window = int(parameters.window_s * SAMPLE_RATE)
        levels, pending = [], np.zeros(0, dtype=np.float32)
        for block in blocks:
            pending = np.concatenate([pending, block])
            while pending.shape[0] >= window:
                chunk, pending = pending[:window], pending[window:]
                levels.append(round(float(10 * np.log10(np.mean(chunk.astype(np.float64) ** 2) + 1e-12)), 3))
        return levels


@dataclass(frozen=True, kw_only=True)
class Loudness:
    model: ModelDescription
    parameters: LoudnessParameters
    audio: AudioInfo
    output: list[float]
    engine: EngineUsed

    def to_dict(self) -> dict[str, Any]:
        header = document_header(self.model, self.engine, dataclasses.asdict(self.parameters), self.audio)
        return {**header, "levels_db": self.output}

    def to_midi(self) -> bytes:
        raise TypeError("loudness has no notes")

    def summary(self) -> dict[str, Any]:
        return {"windows_count": len(self.output)}


SPEC = ModelSpec(
    name="loudness",
    summary="the level of each window of the audio, in dB",
    artifact=ARTIFACT,
    sample_rate=SAMPLE_RATE,
    parameters=LoudnessParameters,
    client_parameters=("window_s",),
    create=LoudnessModel,
    result=lambda **parts: Loudness(**parts),
    result_fields={"levels_db": "[dB per window]"},
)

"""`timed-wait`: a model whose work is a timed wait, for the jobs pipeline's scale test.

Registered like any model (its own `ModelSpec`, `SPEC`), with no weights: its "artifact" is a small
JSON document the scale test writes itself (`write_artifact`), checked by sha256 as a real model's
file is. It decodes the job's audio as every model does, then waits `wait_s` seconds (a request
parameter): what a worker's Lambda invocation spends, without the CPU, so N workers played locally
are limited by the emulator's pipeline, not by this machine's cores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
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

ARTIFACT_BYTES = json.dumps({"kind": "timed-wait", "weights": None}).encode()
ARTIFACT = PinnedArtifact(
    model="timed-wait",
    version="1.0",
    package="timed-wait",
    wheel_sha256="0" * 64,  # never fetched: the scale test writes the file
    member="timed-wait/timed-wait.json",
    sha256=hashlib.sha256(ARTIFACT_BYTES).hexdigest(),
)
SAMPLE_RATE = 8_000


def write_artifact(directory: Path) -> Path:
    path = directory / ARTIFACT.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ARTIFACT_BYTES)
    return path


@dataclass(frozen=True, kw_only=True)
class TimedWaitParameters:
    wait_s: float = 0.05

    def __post_init__(self) -> None:
        number_in("timed-wait.wait_s", self.wait_s, 0.0, 900.0)


class TimedWaitModel:
    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        self._description = ModelDescription(name="timed-wait", version="1.0", sha256="", sample_rate=SAMPLE_RATE)

    def load(self, artifact: Path, *, sha256: str, version: str, engine: EngineSettings | None = None) -> None:
        if hashlib.sha256(artifact.read_bytes()).hexdigest() != sha256:
            raise ValueError(f"{artifact} is not the timed-wait spec (sha256 differs)")
        self._description = ModelDescription(name="timed-wait", version=version, sha256=sha256, sample_rate=SAMPLE_RATE)

    def describe(self) -> ModelDescription:
        return self._description

    def engine_for(self, precision: str) -> EngineUsed:
        return EngineUsed(runtime="sleep", precision="exact", compute="none")

    def predict(self, samples: np.ndarray, parameters: TimedWaitParameters) -> dict[str, float]:
        return self.predict_stream([samples], parameters, Path("."))

    def predict_stream(
        self, blocks: Iterable[np.ndarray], parameters: TimedWaitParameters, workdir: Path
    ) -> dict[str, float]:
        samples = sum(int(block.shape[0]) for block in blocks)
        time.sleep(parameters.wait_s)
        return {"waited_s": parameters.wait_s, "samples": float(samples)}


@dataclass(frozen=True, kw_only=True)
class TimedWait:
    model: ModelDescription
    parameters: TimedWaitParameters
    audio: AudioInfo
    output: dict[str, float]
    engine: EngineUsed

    def to_dict(self) -> dict[str, Any]:
        header = document_header(self.model, self.engine, dataclasses.asdict(self.parameters), self.audio)
        return {**header, **self.output}

    def to_midi(self) -> bytes:
        raise TypeError("timed-wait has no notes")

    def summary(self) -> dict[str, Any]:
        return {"waited_s": self.output["waited_s"]}


def _result(**parts: Any) -> TimedWait:
    return TimedWait(**parts)


SPEC = ModelSpec(
    name="timed-wait",
    summary="waits wait_s seconds (the jobs pipeline's scale test; no weights)",
    artifact=ARTIFACT,
    sample_rate=SAMPLE_RATE,
    parameters=TimedWaitParameters,
    client_parameters=("wait_s",),
    create=TimedWaitModel,
    result=_result,
    result_fields={"waited_s": "seconds waited", "samples": "samples decoded"},
)

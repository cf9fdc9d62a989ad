"""The model interface: what the runtime needs from any audio model, and what it gives back.

A new model implements `AudioModel` (load, describe, predict, predict_stream) and a `Prediction`
(its result document), and is described by a `ModelSpec` in `inference.models.registry`; neither
the service nor the infrastructure changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np



@dataclass(frozen=True)
class NoteEvent:
    """One transcribed note; times in seconds, pitch as a MIDI number."""

    start_s: float
    end_s: float
    pitch: int
    amplitude: float
    pitch_bends: tuple[int, ...] | None = None
    """Bend per model frame in 1/3-semitone steps, when pitch bends are enabled."""

    @property
    def velocity(self) -> int:
        return int(np.round(127 * self.amplitude))


@dataclass(frozen=True)
class ModelDescription:
    name: str
    version: str
    sha256: str
    sample_rate: int


@dataclass(frozen=True)
class EngineSettings:
    """How a model's network is run: which engine, how many threads (0 = the function's vCPUs), in
    batches of how many windows, and which precisions to prepare at load (the others are prepared on
    first use)."""

    runtime: str = "onnxruntime"
    threads: int = 0
    batch_size: int = 2
    """An engine that compiles for fixed shapes (fast on OpenVINO) is shaped for this many windows."""
    preload: tuple[str, ...] = ("exact",)


@dataclass(frozen=True)
class EngineUsed:
    """What produced a result: the engine, the precision asked for, and the arithmetic done
    (`compute`: "f32", or a mix such as "f32+bf16+int8" where `fast` could be faster; "f32" again
    where it could not)."""

    runtime: str
    precision: str
    compute: str


@runtime_checkable
class Prediction(Protocol):
    """A model's answer for one recording, as the service stores and returns it."""

    @property
    def audio(self) -> Any:
        """The decoded audio's `AudioInfo` (duration, rate, channels, format)."""

    def to_dict(self) -> dict[str, Any]:
        """The result document: schema_version, model, parameters, audio, then the model's own fields
        (docs/result-schema.json, one schema per model)."""

    def to_midi(self) -> bytes:
        """A standard MIDI file (only for models whose spec lists audio/midi)."""

    def summary(self) -> dict[str, Any]:
        """A few counts for a job's status (notes_count, segments_count...)."""


@runtime_checkable
class AudioModel(Protocol):
    """Any model: mono float32 samples at `sample_rate` in, the model's output for its result out."""

    sample_rate: int
    """The rate `predict` expects its mono float32 samples at."""

    def load(self, artifact: Path, *, sha256: str, version: str, engine: EngineSettings = EngineSettings()) -> None:
        """Load weights from a verified local file; called once per process."""

    def engine_for(self, precision: str) -> EngineUsed:
        """The engine `predict` uses for `precision` (prepared now if it was not yet)."""

    def describe(self) -> ModelDescription:
        """Name, version and checksum of the loaded model."""

    def predict(self, samples: np.ndarray, parameters: Any) -> Any:
        """The model's output (its spec's `result` turns it into a Prediction) for mono float32 samples."""

    def predict_stream(self, blocks: Iterable[np.ndarray], parameters: Any, workdir: Path) -> Any:
        """The same output for samples arriving in blocks, in memory independent of their number;
        `workdir` is scratch space on disk for whatever does not fit that."""


AudioToNotesModel = AudioModel
"""The first model's name for the interface (Basic Pitch's notes are one kind of output)."""

"""Basic Pitch (ICASSP 2022) behind the model interface: ONNX session + our pre/post-processing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.config import InferenceParameters
from inference.errors import ModelArtifactUnreadableError
from inference.models.base import ModelDescription, NoteEvent
from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.notes import frame_times, notes_from_activations, pitch_bends
from inference.models.basic_pitch.windows import Activations, run_windows

NAME = "basic-pitch"


class BasicPitchModel:
    sample_rate = c.SAMPLE_RATE

    def __init__(self) -> None:
        self._session = None
        self._description: ModelDescription | None = None

    def load(self, artifact: Path, *, sha256: str, version: str) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelArtifactUnreadableError(f"{artifact} is not a loadable ONNX model: {exc}") from exc
        self._description = ModelDescription(name=NAME, version=version, sha256=sha256, sample_rate=self.sample_rate)

    def describe(self) -> ModelDescription:
        if self._description is None:
            raise RuntimeError("BasicPitchModel.load() has not been called")
        return self._description

    def activations(self, samples: np.ndarray, batch_size: int, want_contour: bool) -> Activations:
        """The model's note, onset (and contour) maps for the whole signal."""
        if self._session is None:
            raise RuntimeError("BasicPitchModel.load() has not been called")
        session = self._session
        outputs = [c.OUTPUT_NOTE, c.OUTPUT_ONSET] + ([c.OUTPUT_CONTOUR] if want_contour else [])

        def run_batch(batch: np.ndarray):
            result = session.run(outputs, {c.INPUT_NAME: batch})
            return result[0], result[1], result[2] if want_contour else None

        return run_windows(samples, run_batch, batch_size, want_contour)

    def predict(self, samples: np.ndarray, parameters: InferenceParameters) -> list[NoteEvent]:
        want_bends = parameters.include_pitch_bends or parameters.multiple_pitch_bends
        maps = self.activations(samples, parameters.batch_size, want_bends)
        min_note_frames = int(np.round(parameters.minimum_note_length_ms / 1000 * (c.SAMPLE_RATE / c.FFT_HOP)))
        frame_notes = notes_from_activations(
            maps.note,
            maps.onset,
            onset_threshold=parameters.onset_threshold,
            frame_threshold=parameters.frame_threshold,
            min_note_frames=min_note_frames,
            min_hz=parameters.minimum_frequency_hz,
            max_hz=parameters.maximum_frequency_hz,
            melodia_trick=parameters.melodia_trick,
        )
        bends = pitch_bends(maps.contour, frame_notes) if maps.contour is not None else [None] * len(frame_notes)
        times = frame_times(maps.n_frames)
        events = [
            NoteEvent(
                start_s=float(times[start]),
                end_s=float(times[end]),
                pitch=int(pitch),
                amplitude=float(amplitude),
                pitch_bends=bend,
            )
            for (start, end, pitch, amplitude), bend in zip(frame_notes, bends)
        ]
        events.sort(key=lambda e: (e.start_s, e.pitch, e.end_s))
        return events

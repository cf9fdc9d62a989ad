"""Silero VAD behind the model interface: its ONNX network on onnxruntime, 32 ms at a time.

The network is recurrent: each 512-sample window at 16 kHz is run with the 64 samples before it
(its context) and the state the previous window left, exactly as silero-vad's `OnnxWrapper` does,
so a stream split into blocks of any size gives the same probabilities as the whole file. What is
kept per window is one float (4 bytes per 32 ms: ~0.45 MB an hour), so memory does not depend on
the audio's length in any way that matters; the segments come from silero-vad's own post-processing
(`segments.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.errors import ModelArtifactUnreadableError
from inference.models.base import EngineSettings, EngineUsed, ModelDescription
from inference.models.silero_vad.segments import WINDOW_SAMPLES, speech_segments
from inference.models.silero_vad.parameters import SAMPLE_RATE, SILERO_VAD, VadParameters

CONTEXT_SAMPLES = 64
"""What the network sees of the previous window at 16 kHz (silero-vad's OnnxWrapper)."""
STATE_SHAPE = (2, 1, 128)


@dataclass(frozen=True)
class VadOutput:
    """Speech segments in samples at 16 kHz, and how many samples there were."""

    segments: list[tuple[int, int]]
    audio_samples: int
    sample_rate: int = SAMPLE_RATE


class SileroVadModel:
    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        self._session: object | None = None
        self._description: ModelDescription | None = None

    def load(self, artifact: Path, *, sha256: str, version: str, engine: EngineSettings = EngineSettings()) -> None:
        """One onnxruntime session, one thread: a window is ~0.07 ms of work, less than a thread
        hand-off costs (silero-vad's own wrapper sets the same). `engine.runtime` is Basic Pitch's
        choice; this small recurrent network is validated on onnxruntime only."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelArtifactUnreadableError(f"{artifact} is not a loadable ONNX model: {exc}") from exc
        self._description = ModelDescription(
            name=SILERO_VAD.model, version=version, sha256=sha256, sample_rate=self.sample_rate
        )

    def describe(self) -> ModelDescription:
        if self._description is None:
            raise RuntimeError("SileroVadModel.load() has not been called")
        return self._description

    def engine_for(self, precision: str) -> EngineUsed:
        return EngineUsed(runtime="onnxruntime", precision="exact", compute="f32")

    def probabilities(self, blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        """Speech probability per 512-sample window (the last one zero-padded), and the sample count."""
        if self._session is None:
            raise RuntimeError("SileroVadModel.load() has not been called")
        run = self._session.run  # type: ignore[attr-defined]
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        state = np.zeros(STATE_SHAPE, dtype=np.float32)
        frame = np.zeros((1, CONTEXT_SAMPLES + WINDOW_SAMPLES), dtype=np.float32)
        pending = np.zeros(0, dtype=np.float32)
        chunks: list[np.ndarray] = []
        total = 0

        def windows(samples: np.ndarray) -> np.ndarray:
            nonlocal state
            out = np.empty(len(samples) // WINDOW_SAMPLES, dtype=np.float32)
            for i in range(out.shape[0]):
                frame[0, CONTEXT_SAMPLES:] = samples[i * WINDOW_SAMPLES : (i + 1) * WINDOW_SAMPLES]
                probability, state = run(None, {"input": frame, "state": state, "sr": rate})
                out[i] = probability[0, 0]
                frame[0, :CONTEXT_SAMPLES] = frame[0, -CONTEXT_SAMPLES:]
            return out

        for block in blocks:
            samples = np.asarray(block, dtype=np.float32).reshape(-1)
            total += samples.shape[0]
            if pending.shape[0]:
                samples = np.concatenate([pending, samples])
            whole = samples.shape[0] - samples.shape[0] % WINDOW_SAMPLES
            if whole:
                chunks.append(windows(samples[:whole]))
            pending = samples[whole:].copy()
        if pending.shape[0]:
            chunks.append(windows(np.pad(pending, (0, WINDOW_SAMPLES - pending.shape[0]))))
        return (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)), total

    def predict(self, samples: np.ndarray, parameters: VadParameters) -> VadOutput:
        return self.predict_stream([samples], parameters, Path("."))

    def predict_stream(self, blocks: Iterable[np.ndarray], parameters: VadParameters, workdir: Path) -> VadOutput:
        probabilities, total = self.probabilities(blocks)
        segments = speech_segments(
            probabilities.tolist(),
            audio_samples=total,
            sample_rate=SAMPLE_RATE,
            threshold=parameters.threshold,
            min_speech_duration_ms=parameters.min_speech_duration_ms,
            min_silence_duration_ms=parameters.min_silence_duration_ms,
            speech_pad_ms=parameters.speech_pad_ms,
        )
        return VadOutput(segments=segments, audio_samples=total)

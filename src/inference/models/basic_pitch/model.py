"""Basic Pitch (ICASSP 2022) behind the model interface: its ONNX network on a runtime + our pre/post-processing."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from inference.artifact import cache_dir
from inference.config import PRECISIONS, InferenceParameters
from inference.models.base import EngineSettings, EngineUsed, ModelDescription, NoteEvent
from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.file_notes import notes_from_files, pitch_bends_from_file
from inference.models.basic_pitch.map_files import RowFile
from inference.models.basic_pitch.notes import (
    FrameNote,
    NoteSettings,
    check_bend_budget,
    frame_times_at,
    notes_from_activations,
    pitch_bends,
)
from inference.models.basic_pitch.windows import Activations, RunBatch, output_frames, run_windows, stream_windows
from inference.runtimes import (
    Int8Input,
    Session,
    cpu_has_bf16,
    cpu_has_int8,
    function_vcpus,
    open_onnxruntime,
    open_openvino,
)
from contract.validation import one_of

NAME = "basic-pitch"


class BasicPitchModel:
    sample_rate = c.SAMPLE_RATE

    def __init__(self) -> None:
        self._artifact: Path | None = None
        self._engine = EngineSettings()
        self._sessions: dict[str, Session] = {}
        self._opening = threading.Lock()
        self._description: ModelDescription | None = None

    def load(self, artifact: Path, *, sha256: str, version: str, engine: EngineSettings = EngineSettings()) -> None:
        self._artifact, self._engine, self._sessions = artifact, engine, {}
        for precision in engine.preload:
            self._session(precision)
        self._description = ModelDescription(name=NAME, version=version, sha256=sha256, sample_rate=self.sample_rate)

    def describe(self) -> ModelDescription:
        if self._description is None:
            raise RuntimeError("BasicPitchModel.load() has not been called")
        return self._description

    def engine_for(self, precision: str) -> EngineUsed:
        session = self._session(precision)
        return EngineUsed(runtime=session.runtime, precision=precision, compute=session.compute)

    def _session(self, precision: str) -> Session:
        """The session for a precision, opened once: `exact` on the configured runtime in f32; `fast`
        on OpenVINO: where the CPU computes bf16 natively, the front end and the note and onset heads
        in f32, the body's 3x39 convolution in int8 and the rest between in bf16 ("f32+bf16+int8");
        where it has int8 but no bf16 (x86_64, `cpu_has_int8`), that convolution in int8 and the rest in f32
        ("f32+int8"); else the exact session itself (nothing faster to run there; the result says
        f32)."""
        if self._artifact is None:
            raise RuntimeError("BasicPitchModel.load() has not been called")
        one_of("inference.precision", precision, PRECISIONS)
        with self._opening:
            if precision not in self._sessions:
                self._sessions[precision] = self._open(precision)
            return self._sessions[precision]

    def _open(self, precision: str) -> Session:
        artifact, engine = self._artifact, self._engine
        assert artifact is not None
        threads = engine.threads or function_vcpus()
        if precision == "fast":
            int8 = [Int8Input(c.INT8_BODY_INPUT, *c.INT8_BODY_RANGE, (c.INT8_CONVOLUTION,))]
            has_int8 = cpu_has_int8()
            if cpu_has_bf16():  # every such CPU known has VNNI too; without it, the bf16-only split
                return open_openvino(
                    artifact,
                    threads=threads,
                    bf16=True,
                    f32_until=c.F32_FRONT_OUTPUT,
                    f32_from=c.F32_NOTE_ONSET_INPUTS if has_int8 else c.F32_HEADS_INPUTS,
                    int8=int8 if has_int8 else [],
                    rewrite_f32_stages=True,
                    rows=engine.batch_size,
                    cache_dir=compiled_cache(),
                )
            if has_int8:
                return open_openvino(
                    artifact,
                    threads=threads,
                    bf16=False,
                    int8=int8,
                    rewrite_f32_stages=True,
                    rows=engine.batch_size,
                    cache_dir=compiled_cache(),
                )
            if "exact" in self._sessions:
                return self._sessions["exact"]
        if engine.runtime == "openvino":
            return open_openvino(artifact, threads=threads, bf16=False, cache_dir=compiled_cache())
        return open_onnxruntime(artifact, threads=threads)

    def _run_batch(self, want_contour: bool, precision: str) -> RunBatch:
        session = self._session(precision)
        outputs = [c.OUTPUT_NOTE, c.OUTPUT_ONSET] + ([c.OUTPUT_CONTOUR] if want_contour else [])

        def run_batch(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            result = session.run(batch, outputs)
            return result[0], result[1], result[2] if want_contour else None

        return run_batch

    def activations(
        self, samples: np.ndarray, batch_size: int, want_contour: bool, precision: str = "exact"
    ) -> Activations:
        """The model's note, onset (and contour) maps for the whole signal."""
        return run_windows(samples, self._run_batch(want_contour, precision), batch_size, want_contour)

    def predict(self, samples: np.ndarray, parameters: InferenceParameters) -> list[NoteEvent]:
        want_bends = parameters.include_pitch_bends or parameters.multiple_pitch_bends
        maps = self.activations(samples, parameters.batch_size, want_bends, parameters.precision)
        settings = note_settings(parameters)
        frame_notes = notes_from_activations(maps.note, maps.onset, **asdict(settings))
        if maps.contour is None:
            return note_events(frame_notes, [None] * len(frame_notes))
        check_bend_budget(frame_notes, maps.contour.shape[0])
        bends = pitch_bends(maps.contour, frame_notes)
        return note_events(frame_notes, bends)

    def predict_stream(
        self, blocks: Iterable[np.ndarray], parameters: InferenceParameters, workdir: Path
    ) -> list[NoteEvent]:
        """`predict` over samples arriving in blocks, with the activation maps on disk under `workdir`:
        the same notes, in memory that does not grow with the audio's length."""
        want_bends = parameters.include_pitch_bends or parameters.multiple_pitch_bends
        note_map = RowFile(workdir / "note-map.f32", c.N_PITCHES)
        onset_map = RowFile(workdir / "onset-map.f32", c.N_PITCHES)
        contour_map = RowFile(workdir / "contour-map.f32", c.N_CONTOUR_BINS) if want_bends else None

        def keep(note: np.ndarray, onset: np.ndarray, contour: np.ndarray | None) -> None:
            note_map.append(note)
            onset_map.append(onset)
            if contour_map is not None and contour is not None:
                contour_map.append(contour)

        try:
            n_samples = stream_windows(
                blocks, self._run_batch(want_bends, parameters.precision), parameters.batch_size, keep
            )
            n_frames = output_frames(n_samples)
            for kept in (note_map, onset_map, contour_map):
                if kept is not None:
                    kept.truncate(n_frames)
            frame_notes = notes_from_files(note_map, onset_map, note_settings(parameters), workdir)
            if contour_map is not None:
                check_bend_budget(frame_notes, n_frames)
            bends = (
                pitch_bends_from_file(contour_map, frame_notes)
                if contour_map is not None
                else [None] * len(frame_notes)
            )
        finally:
            for kept in (note_map, onset_map, contour_map):
                if kept is not None:
                    kept.close()
        return note_events(frame_notes, bends)


def compiled_cache() -> Path:
    """OpenVINO's compiled models, beside the model downloads (INFERENCE_MODEL_CACHE_DIR, else the
    temporary folder): a second load in the same file system skips compiling (~0.25 s of ~0.5 s)."""
    return cache_dir() / "openvino"


def note_settings(parameters: InferenceParameters) -> NoteSettings:
    return NoteSettings(
        onset_threshold=parameters.onset_threshold,
        frame_threshold=parameters.frame_threshold,
        min_note_frames=int(np.round(parameters.minimum_note_length_ms / 1000 * (c.SAMPLE_RATE / c.FFT_HOP))),
        min_hz=parameters.minimum_frequency_hz,
        max_hz=parameters.maximum_frequency_hz,
        melodia_trick=parameters.melodia_trick,
    )


def note_events(frame_notes: list[FrameNote], bends: list[tuple[int, ...]] | list[None]) -> list[NoteEvent]:
    """Frame notes as timed events, sorted by start, pitch and end."""
    starts = frame_times_at(np.array([n[0] for n in frame_notes], dtype=np.int64))
    ends = frame_times_at(np.array([n[1] for n in frame_notes], dtype=np.int64))
    events = [
        NoteEvent(
            start_s=float(start_s),
            end_s=float(end_s),
            pitch=int(pitch),
            amplitude=float(amplitude),
            pitch_bends=bend,
        )
        for (_, _, pitch, amplitude), bend, start_s, end_s in zip(frame_notes, bends, starts, ends, strict=True)
    ]
    events.sort(key=lambda e: (e.start_s, e.pitch, e.end_s))
    return events

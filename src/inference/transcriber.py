"""Audio bytes in, note events and a MIDI file out: the runtime's one entry point.

Build a `Transcriber` once per process (it loads and verifies the model) and
call `transcribe` per request. The result's JSON layout is documented in
docs/result-schema.json.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.artifact import resolve_artifact
from inference.audio import AudioInfo, DecodedAudio, WorkBounds, decode_audio, open_audio
from inference.config import SERVER_SETTINGS, InferenceConfig, InferenceParameters
from inference.midi import notes_to_midi
from inference.models import AudioToNotesModel, EngineSettings, EngineUsed, ModelDescription, NoteEvent, create_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Transcription:
    model: ModelDescription
    parameters: InferenceParameters
    audio: AudioInfo
    notes: list[NoteEvent]
    engine: EngineUsed

    def to_dict(self) -> dict[str, Any]:
        include_bends = self.parameters.include_pitch_bends
        notes = []
        for n in self.notes:
            item: dict[str, Any] = {
                "start_s": round(n.start_s, 6),
                "end_s": round(n.end_s, 6),
                "pitch": n.pitch,
                "velocity": n.velocity,
                "amplitude": round(n.amplitude, 6),
            }
            if include_bends:
                item["pitch_bends"] = list(n.pitch_bends or ())
            notes.append(item)
        left_out = {*SERVER_SETTINGS, "precision"}  # the precision is reported with the engine, as run
        parameters = {k: v for k, v in dataclasses.asdict(self.parameters).items() if k not in left_out}
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {
                "name": self.model.name,
                "version": self.model.version,
                "sha256": self.model.sha256,
                "runtime": self.engine.runtime,
                "precision": self.engine.precision,
                "compute": self.engine.compute,
            },
            "parameters": parameters,
            "audio": {
                "duration_s": round(self.audio.duration_s, 6),
                "sample_rate": self.audio.source_sample_rate,
                "channels": self.audio.channels,
                "format": self.audio.format,
            },
            "notes": notes,
        }

    def to_midi(self) -> bytes:
        return notes_to_midi(
            self.notes,
            tempo_bpm=self.parameters.midi_tempo,
            multiple_pitch_bends=self.parameters.multiple_pitch_bends,
        )


class Transcriber:
    """A loaded model plus the limits and defaults it runs with."""

    def __init__(
        self,
        config: InferenceConfig,
        model: AudioToNotesModel | None = None,
        artifact: Path | None = None,
        s3_client: S3Client | None = None,
    ) -> None:
        self.config = config
        settings = config.model
        if artifact is None:
            artifact = resolve_artifact(
                settings.artifact_uri,
                settings.sha256,
                model_name=settings.name,
                version=settings.version,
                s3_client=s3_client,
            )
        self.model = model or create_model(settings.name)
        defaults = config.inference
        engine = EngineSettings(runtime=defaults.runtime, threads=defaults.threads, preload=(defaults.precision,))
        self.model.load(artifact, sha256=settings.sha256, version=settings.version, engine=engine)

    def transcribe(self, source: bytes | str | Path, parameters: InferenceParameters | None = None) -> Transcription:
        """Bytes are decoded into memory (a request's audio); a file is streamed (`transcribe_file`)."""
        if isinstance(source, (str, Path)):
            return self.transcribe_file(source, parameters)
        return self.transcribe_decoded(self.decode(source), parameters)

    def transcribe_file(
        self,
        path: str | Path,
        parameters: InferenceParameters | None = None,
        *,
        max_duration_s: float | None = None,
        max_decoded_samples: int | None = None,
        scratch_dir: str | Path | None = None,
    ) -> Transcription:
        """Stream a file through decoding, the model and note creation: memory stays flat whatever its
        length, the activation maps going to a temporary folder under `scratch_dir` (default: the
        system's temporary folder; on Lambda, /tmp). `max_duration_s` defaults to audio.max_duration_s and
        `max_decoded_samples` to audio.max_decoded_samples scaled to that duration (the same samples per
        allowed second); audio errors may surface part way through (a corrupt stream at minute 40)."""
        parameters = parameters or self.config.inference
        limit = self.config.audio.max_duration_s if max_duration_s is None else max_duration_s
        with (
            open_audio(
                path,
                target_sample_rate=self.model.sample_rate,
                max_duration_s=limit,
                bounds=self.work_bounds(max_decoded_samples or self._scaled_budget(limit)),
            ) as stream,
            tempfile.TemporaryDirectory(prefix="transcription-", dir=scratch_dir) as workdir,
        ):
            notes = self.model.predict_stream(stream.blocks(), parameters, Path(workdir))
        return Transcription(
            model=self.model.describe(),
            parameters=parameters,
            audio=stream.info,
            notes=notes,
            engine=self.model.engine_for(parameters.precision),
        )

    def decode(self, source: bytes | str | Path) -> DecodedAudio:
        """Decode and check the audio (every audio error is raised here), before any model work.

        The service decodes first so that a refused upload is never stored.
        """
        return decode_audio(
            source,
            target_sample_rate=self.model.sample_rate,
            max_duration_s=self.config.audio.max_duration_s,
            bounds=self.work_bounds(),
        )

    def _scaled_budget(self, max_duration_s: float) -> int:
        audio = self.config.audio
        return int(audio.max_decoded_samples * max(1.0, max_duration_s / audio.max_duration_s))

    def work_bounds(self, max_decoded_samples: int | None = None) -> WorkBounds:
        """The configured bounds on decoding work; the budget defaults to audio.max_decoded_samples."""
        audio = self.config.audio
        return WorkBounds(
            min_sample_rate_hz=audio.min_sample_rate_hz,
            max_sample_rate_hz=audio.max_sample_rate_hz,
            max_channels=audio.max_channels,
            max_decoded_samples=max_decoded_samples or audio.max_decoded_samples,
        )

    def transcribe_decoded(self, audio: DecodedAudio, parameters: InferenceParameters | None = None) -> Transcription:
        parameters = parameters or self.config.inference
        notes = self.model.predict(audio.samples, parameters)
        return Transcription(
            model=self.model.describe(),
            parameters=parameters,
            audio=audio.info,
            notes=notes,
            engine=self.model.engine_for(parameters.precision),
        )

"""Audio bytes in, a model's result out: the runtime's one entry point, for any registered model.

Build a `Transcriber` once per process and model (it loads and verifies the artifact) and call
`transcribe` per request. Basic Pitch answers a `Transcription` (notes and a MIDI file); each model's
result document is described in docs/result-schema.json. `load_models` builds one per served model.
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
from inference.documents import SCHEMA_VERSION, document_header
from inference.midi import notes_to_midi
from inference.models import AudioModel, EngineSettings, EngineUsed, ModelDescription, NoteEvent, Prediction
from inference.models.registry import ModelSpec, get_spec

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["SCHEMA_VERSION", "Transcriber", "Transcription", "load_models"]


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
        return {**document_header(self.model, self.engine, parameters, self.audio), "notes": notes}

    def summary(self) -> dict[str, Any]:
        return {"notes_count": len(self.notes)}

    def to_midi(self) -> bytes:
        return notes_to_midi(
            self.notes,
            tempo_bpm=self.parameters.midi_tempo,
            multiple_pitch_bends=self.parameters.multiple_pitch_bends,
        )


class Transcriber:
    """A loaded model plus the limits and defaults it runs with.

    `model_name` (default: the config's model.name) picks a registered model. The config's `model`
    section says where the default model's artifact is (pinned, a file, a bucket); any other model
    loads its pinned artifact, which the image carries. Basic Pitch's defaults are the config's
    `inference` section; another model's are its spec's.
    """

    def __init__(
        self,
        config: InferenceConfig,
        model: AudioModel | None = None,
        artifact: Path | None = None,
        s3_client: S3Client | None = None,
        *,
        model_name: str | None = None,
    ) -> None:
        self.config = config
        settings = config.model
        self.spec: ModelSpec = get_spec(model_name or settings.name, "model.name")
        if self.spec.name == settings.name:
            version, sha256, uri = settings.version, settings.sha256, settings.artifact_uri
        else:
            version, sha256, uri = self.spec.artifact.version, self.spec.artifact.sha256, "pinned"
        if artifact is None:
            artifact = resolve_artifact(uri, sha256, model_name=self.spec.name, version=version, s3_client=s3_client)
        self.model = model or self.spec.create()
        defaults = config.inference
        engine = EngineSettings(
            runtime=defaults.runtime,
            threads=defaults.threads,
            batch_size=defaults.batch_size,
            preload=(defaults.precision,),
        )
        self.model.load(artifact, sha256=sha256, version=version, engine=engine)
        self.defaults: Any = defaults if self.spec.parameters is type(defaults) else self.spec.default_parameters()
        """The parameters a request that sets none gets."""

    @property
    def name(self) -> str:
        return self.spec.name

    def _result(self, parameters: Any, audio: AudioInfo, output: Any) -> Prediction:
        engine = self.model.engine_for(getattr(parameters, "precision", "exact"))
        return self.spec.result(
            model=self.model.describe(), parameters=parameters, audio=audio, output=output, engine=engine
        )

    def transcribe(self, source: bytes | str | Path, parameters: Any = None) -> Any:
        """Bytes are decoded into memory (a request's audio); a file is streamed (`transcribe_file`)."""
        if isinstance(source, (str, Path)):
            return self.transcribe_file(source, parameters)
        return self.transcribe_decoded(self.decode(source), parameters)

    def transcribe_file(
        self,
        path: str | Path,
        parameters: Any = None,
        *,
        max_duration_s: float | None = None,
        max_decoded_samples: int | None = None,
        scratch_dir: str | Path | None = None,
    ) -> Any:
        """Stream a file through decoding, the model and note creation: memory stays flat whatever its
        length, the activation maps going to a temporary folder under `scratch_dir` (default: the
        system's temporary folder; on Lambda, /tmp). `max_duration_s` defaults to audio.max_duration_s and
        `max_decoded_samples` to audio.max_decoded_samples scaled to that duration (the same samples per
        allowed second); audio errors may surface part way through (a corrupt stream at minute 40)."""
        parameters = parameters or self.defaults
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
            output = self.model.predict_stream(stream.blocks(), parameters, Path(workdir))
        return self._result(parameters, stream.info, output)

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

    def transcribe_decoded(self, audio: DecodedAudio, parameters: Any = None) -> Any:
        """The model's result (a `Transcription` for Basic Pitch) for audio `decode` accepted."""
        parameters = parameters or self.defaults
        return self._result(parameters, audio.info, self.model.predict(audio.samples, parameters))


def load_models(
    config: InferenceConfig, names: tuple[str, ...] | None = None, s3_client: S3Client | None = None
) -> dict[str, Transcriber]:
    """One loaded Transcriber per served model (default: the config's model.served), the default
    model (model.name) first."""
    served = names if names is not None else config.model.served_models
    ordered = [config.model.name, *(name for name in served if name != config.model.name)]
    return {name: Transcriber(config, s3_client=s3_client, model_name=name) for name in ordered}

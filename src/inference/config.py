"""Typed inference configuration: `config/inference_config.yaml` plus overrides.

Loaded by the service at start-up and by the stacks at synth time (to copy
every value into the function's environment). Only the standard library and
PyYAML are imported, so the infrastructure side stays free of the runtime.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contract import env_names
from contract.validation import ConfigError, int_in, matches, number_in, one_of, require
from inference.models.registry import pinned_artifact
from inference.pinned import DEFAULT_MODEL

REPO_CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "inference_config.yaml"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z", re.ASCII)
_NUMBER_MAX_CHARS = 32
RUNTIMES = ("onnxruntime", "openvino")
"""Engines that run the model (`inference.runtimes`); onnxruntime's f32 is the validated reference."""
PRECISIONS = ("exact", "fast")
"""exact: f32 on the configured runtime. fast: OpenVINO in int8 and bf16 where the CPU has them
(docs/performance.md)."""
SERVER_SETTINGS = ("batch_size", "runtime", "threads")
"""Fields of InferenceParameters that are the server's resources, not a client's choice."""
_URI = re.compile(r"^(pinned|file://.+|s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+)$")


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """Which model artifact to load and the checksum it must have.

    `sha256` left empty means the checksum of the pinned artifact of `name` at
    `version` (`inference.pinned`), so the checksum is written in one place; a
    model or version with no pinned artifact must state its own.
    """

    name: str = DEFAULT_MODEL.model
    """The default model: what a request that names none gets. version, artifact_uri and sha256 are
    its artifact's; the other served models load their pinned artifacts."""
    version: str = DEFAULT_MODEL.version
    """The default model's version: its pinned artifact's unless another file is named."""
    artifact_uri: str = "pinned"
    """`pinned` (the models folder or the image), `file:///path` or `s3://bucket/key`."""
    sha256: str = ""
    """The artifact's checksum; empty: the pinned artifact's of `name` at `version` (the model's spec is the
    one place it is written)."""
    served: str = "basic-pitch,silero-vad"
    """The registered models this deployment serves, comma-separated (`inference.models.registry`);
    it includes `name`. The stacks set it from the environment's `models`."""

    @property
    def served_models(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.served.split(","))

    def __post_init__(self) -> None:
        require(
            isinstance(self.name, str) and bool(self.name.strip()), "model.name", self.name, "a non-empty model name"
        )
        require(
            isinstance(self.version, str) and bool(self.version.strip()),
            "model.version",
            self.version,
            "a non-empty version",
        )
        matches("model.artifact_uri", self.artifact_uri, _URI, "'pinned', file:///path or s3://bucket/key")
        if self.sha256 == "":
            pinned = pinned_artifact(self.name, self.version)
            require(
                pinned is not None,
                "model.sha256",
                self.sha256,
                f"64 lowercase hex digits ({self.name} {self.version} has no pinned artifact to take it from)",
            )
            if pinned is not None:
                object.__setattr__(self, "sha256", pinned.sha256)  # frozen: resolve the default once
        matches("model.sha256", self.sha256, _SHA256, "64 lowercase hex digits")
        from inference.models.registry import model_names  # the registry's specs import this module

        known = model_names()
        served = self.served_models if isinstance(self.served, str) else ()
        require(
            bool(served) and all(name in known for name in served) and len(set(served)) == len(served),
            "model.served",
            self.served,
            f"a comma-separated list of distinct registered models: {', '.join(known)}",
        )
        require(self.name in served, "model.served", self.served, f"a list that includes model.name ({self.name})")


@dataclass(frozen=True, kw_only=True)
class AudioLimits:
    """What audio the runtime accepts before it spends time on it."""

    max_duration_s: float = 600.0
    """Longer audio is refused (413 on /predict, with a pointer to /jobs)."""
    max_upload_bytes: int = 4_500_000
    """What a synchronous request may carry: a Lambda payload holds ~4.5 MB of base64 audio."""
    min_sample_rate_hz: int = 8_000
    """Lower rates are refused: a 1 Hz header would stretch 500 frames into 500 s of model work."""
    max_sample_rate_hz: int = 192_000
    """Higher sample rates are refused before decoding (422 `unsupported_sample_rate`)."""
    max_channels: int = 8
    """More channels are refused before decoding (422 `too_many_channels`)."""
    max_decoded_samples: int = 57_600_000
    """A synchronous request's decoding budget, frames x channels at the source's rate: 600 s of
    48 kHz stereo (docs/configuration.md, Capacity); jobs have jobs.max_decoded_samples."""

    def __post_init__(self) -> None:
        number_in("audio.max_duration_s", self.max_duration_s, 0.1, 3600.0)
        int_in("audio.max_upload_bytes", self.max_upload_bytes, 1, 10 * 1024 * 1024 * 1024)
        int_in("audio.min_sample_rate_hz", self.min_sample_rate_hz, 1, 384_000)
        int_in("audio.max_sample_rate_hz", self.max_sample_rate_hz, self.min_sample_rate_hz, 768_000)
        int_in("audio.max_channels", self.max_channels, 1, 64)
        int_in("audio.max_decoded_samples", self.max_decoded_samples, 1, 100_000_000_000)


THRESHOLD_RANGE = (0.05, 0.95)
"""What `onset_threshold` and `frame_threshold` may be."""
MIN_MIDI_TEMPO = 4.0
"""MIDI's set_tempo holds at most 0xFFFFFF µs per beat (3.58 bpm): a slower tempo cannot be written."""
MIN_NOTE_LENGTH_MS = 10.0
"""About one output frame (11.6 ms): a shorter minimum would let single-frame noise through as notes."""


@dataclass(frozen=True, kw_only=True)
class InferenceParameters:
    """Note-creation parameters; defaults are Basic Pitch's own."""

    onset_threshold: float = 0.5
    """How sure the model must be of an onset to start a note."""
    frame_threshold: float = 0.3
    """How sure the model must be of a frame for a note to go on."""
    minimum_note_length_ms: float = 127.7
    """Shorter notes are dropped."""
    minimum_frequency_hz: float | None = None
    """Notes below this frequency are dropped; None: no lower bound."""
    maximum_frequency_hz: float | None = None
    """Notes above this frequency are dropped; None: no upper bound."""
    melodia_trick: bool = True
    """Basic Pitch's melodia trick: also make notes from frames without a detected onset."""
    include_pitch_bends: bool = False
    """Add `pitch_bends` to each note."""
    multiple_pitch_bends: bool = False
    """One MIDI instrument per pitch, so that overlapping notes keep their bends."""
    midi_tempo: float = 120.0
    """The MIDI file's tempo in beats per minute (4-1,000: MIDI's set_tempo holds at most 16,777,215 µs
    per beat, 3.58 bpm)."""
    batch_size: int = 2
    """Windows per model call (memory grows ~20 MB per window)."""
    precision: str = "exact"
    """What a request that does not ask gets: `exact` (f32, the validated results) or `fast`
    (docs/performance.md); the stacks set it from `function.precision`."""
    runtime: str = "onnxruntime"
    """The engine of `exact`: `onnxruntime` (the results' reference, bit for bit) or `openvino` (f32); `fast`
    always runs on OpenVINO."""
    threads: int = 0
    """Model threads; 0 = the function's vCPUs (from its memory on Lambda), not the host's cores."""

    def __post_init__(self) -> None:
        # Thresholds near 0 make nearly every cell a note (not a transcription; the output budget would stop
        # it anyway) and near 1 none: the page's sliders and Basic Pitch's own demo use the same range.
        number_in("inference.onset_threshold", self.onset_threshold, *THRESHOLD_RANGE)
        number_in("inference.frame_threshold", self.frame_threshold, *THRESHOLD_RANGE)
        number_in("inference.minimum_note_length_ms", self.minimum_note_length_ms, MIN_NOTE_LENGTH_MS, 10_000.0)
        for name in ("minimum_frequency_hz", "maximum_frequency_hz"):
            value = getattr(self, name)
            if value is not None:
                number_in(f"inference.{name}", value, 1.0, 20_000.0)
        lo, hi = self.minimum_frequency_hz, self.maximum_frequency_hz
        require(
            lo is None or hi is None or lo < hi,
            "inference.minimum_frequency_hz",
            lo,
            f"a value below maximum_frequency_hz ({hi})",
        )
        for name in ("include_pitch_bends", "multiple_pitch_bends", "melodia_trick"):
            require(isinstance(getattr(self, name), bool), f"inference.{name}", getattr(self, name), "true or false")
        number_in("inference.midi_tempo", self.midi_tempo, MIN_MIDI_TEMPO, 1000.0)
        int_in("inference.batch_size", self.batch_size, 1, 256)
        one_of("inference.precision", self.precision, PRECISIONS)
        one_of("inference.runtime", self.runtime, RUNTIMES)
        int_in("inference.threads", self.threads, 0, 64)

    def with_overrides(self, **changes: Any) -> InferenceParameters:
        """A copy with some fields changed, validated like the original."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True, kw_only=True)
class InferenceConfig:
    """Everything the runtime needs to know, validated when constructed."""

    model: ModelSettings = field(default_factory=ModelSettings)
    audio: AudioLimits = field(default_factory=AudioLimits)
    inference: InferenceParameters = field(default_factory=InferenceParameters)

    def to_environment(self) -> dict[str, str]:
        """Every set value as the environment variables the service reads back.

        Unset optional values (None) are left out: an absent variable means
        "use the file's value", which is also None for those fields.
        """
        out: dict[str, str] = {}
        for (section, name), var in env_names.INFERENCE_SETTINGS.items():
            value = getattr(getattr(self, section), name)
            if value is not None:
                out[var] = _format_env_value(value)
        return out


_SECTIONS: dict[str, type] = {"model": ModelSettings, "audio": AudioLimits, "inference": InferenceParameters}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> InferenceConfig:
    """Read the YAML file, apply environment overrides, validate.

    `path` defaults to $INFERENCE_CONFIG_FILE, then the repository's file. Where
    neither is given and the repository's file is not there (the Lambda image
    ships the packages alone), the defaults apply and the environment, which the
    stacks fill with every value of the file, overrides them. Pass `environ={}`
    to read the file alone (the stacks do).
    """
    environ = os.environ if environ is None else environ
    explicit = path or environ.get(env_names.CONFIG_FILE)
    path = Path(explicit or REPO_CONFIG_FILE)
    try:
        raw = yaml.safe_load(path.read_text()) or {} if explicit or path.exists() else {}
    except OSError as exc:
        raise ConfigError("config_file", str(path), f"a readable YAML file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError("config_file", str(path), f"valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError("config_file", str(path), "a mapping with sections model, audio, inference")
    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(sorted(unknown)[0], "...", f"one of the sections {sorted(_SECTIONS)}")

    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        values = dict(raw.get(section) or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name in values:
            if name not in fields:
                raise ConfigError(f"{section}.{name}", values[name], f"one of {sorted(fields)}")
        for name, f in fields.items():
            var = env_names.INFERENCE_SETTINGS.get((section, name))
            if var and var in environ:
                values[name] = environ[var]
            if name in values:
                values[name] = coerce(f"{section}.{name}", values[name], f.type)
        sections[section] = cls(**values)
    return InferenceConfig(**sections)


def coerce(field_name: str, value: Any, annotation: Any) -> Any:
    """Turn YAML, environment or request strings into a field's declared type (its annotation: the
    string a module with `from __future__ import annotations` keeps, or the type itself)."""
    text = _annotation_text(annotation)
    optional = "None" in text
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        if optional:
            return None
        raise ConfigError(field_name, value, "a value (this field cannot be empty)")
    if text.startswith("bool"):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower() if isinstance(value, str) else None
        if lowered == "true":  # the documented spellings only: no yes/on/1 that a reader would not expect
            return True
        if lowered == "false":
            return False
        raise ConfigError(field_name, value, "true or false")
    if text.startswith("int"):
        as_float = _number(field_name, value, "an integer")
        if not as_float.is_integer():
            raise ConfigError(field_name, value, "an integer")
        return int(as_float)
    if text.startswith("float"):
        return _number(field_name, value, "a finite number")
    return str(value)


def _annotation_text(annotation: Any) -> str:
    """'float', 'float | None', 'bool'... for an annotation given as a string or as a type."""
    if isinstance(annotation, str):
        return annotation
    members = typing.get_args(annotation)
    if members:  # X | None, Optional[X]
        return " | ".join(_annotation_text(member) for member in members)
    return "None" if annotation is type(None) else str(getattr(annotation, "__name__", annotation))


def _number(field_name: str, value: Any, allowed: str) -> float:
    """A finite number from a YAML number or a string in JSON's number grammar, ASCII only.

    `float()` alone also takes '1_0', ' 7 ', 'nan', 'infinity' and other scripts' digits ('٠.٥', '０.５').
    """
    if isinstance(value, bool):
        raise ConfigError(field_name, value, allowed)
    is_json_number = (
        isinstance(value, str) and len(value) <= _NUMBER_MAX_CHARS and _JSON_NUMBER.match(value.strip(" \t\r\n"))
    )
    if isinstance(value, (int, float)) or is_json_number:
        number = float(value)
    else:
        shown = value if not isinstance(value, str) or len(value) <= 40 else f"{value[:40]}..."
        raise ConfigError(field_name, shown, f"{allowed}, written as a JSON number in ASCII digits (e.g. 0.5, 2, 1e3)")
    if not math.isfinite(number):
        raise ConfigError(field_name, value, allowed)
    return number


def _format_env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)

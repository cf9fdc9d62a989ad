"""The models this runtime can serve, each described once: name, pinned artifact, parameters, result.

A model is a `ModelSpec` in its own package (`inference.models.<name>.spec`) plus one line in
`_BUILT_IN` below. Everything else reads the registry: the config's validation (`model.served`),
`make model` and the image (which artifacts to fetch), the service (which parameters a request may
send, whether MIDI can be answered), /health, the stacks (which models an environment serves),
`python -m inference models`, and the tests that keep docs/result-schema.json and openapi.yaml in step. Standard library only at import (plus what each spec imports, which must be
light too): the stacks read it at synth time without loading any model runtime.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contract import env_names
from contract.validation import ConfigError
from inference.pinned import PinnedArtifact

if TYPE_CHECKING:
    from inference.models.base import AudioModel, Prediction

_BUILT_IN = (
    "inference.models.basic_pitch.spec",
    "inference.models.silero_vad.spec",
)
"""One module per model, each defining SPEC; the order is the order /health and docs/models.md list them."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything the platform needs to know about one model, without loading it."""

    name: str
    """What clients send as `model` and the result document's model.name."""
    summary: str
    """One line: what the model answers."""
    artifact: PinnedArtifact
    """Where its weights come from (a file in a pinned wheel), checked by sha256."""
    sample_rate: int
    """The rate the decoder resamples to before the model sees the audio (mono float32)."""
    parameters: type[Any]
    """A frozen dataclass: field defaults are the model's defaults and `__post_init__` checks each
    range with `contract.validation`, naming the field as `<prefix>.<field>`."""
    client_parameters: tuple[str, ...]
    """The fields of `parameters` a request may set (the others are the server's resources)."""
    result_types: tuple[str, ...] = ("application/json",)
    """Media types /predict can answer for this model; `audio/midi` only where there are notes."""
    create: Callable[[], AudioModel] = field(repr=False)
    """An unloaded model instance (imports the runtime only when called)."""
    result: Callable[..., Prediction] = field(repr=False)
    """Builds the result (keywords model, parameters, audio, output, engine) from `predict`'s output."""
    result_fields: Mapping[str, str] = field(default_factory=dict)
    """The result document's own top-level fields (after the common header) and what each holds;
    docs/result-schema.json describes exactly these (a test checks)."""

    @property
    def produces_midi(self) -> bool:
        return "audio/midi" in self.result_types

    def default_parameters(self, **overrides: Any) -> Any:
        """The model's defaults, with `overrides` applied and validated."""
        return self.parameters(**overrides)

    def parameter_types(self) -> dict[str, Any]:
        return {f.name: f.type for f in dataclasses.fields(self.parameters)}


_REGISTRY: dict[str, ModelSpec] = {}
_LOADING = threading.Lock()


def _load_built_in() -> None:
    """The built-in models, then the plug-ins named in $INFERENCE_MODEL_PLUGINS (modules on the path);
    published all at once, so another thread never sees half a registry."""
    if _REGISTRY:
        return
    with _LOADING:
        if _REGISTRY:
            return
        loaded = {spec.name: spec for spec in (importlib.import_module(m).SPEC for m in _BUILT_IN)}
        plugins = [m.strip() for m in os.environ.get(env_names.MODEL_PLUGINS, "").split(",") if m.strip()]
        for module in plugins:
            try:
                imported = importlib.import_module(module)
            except ImportError as exc:
                raise ConfigError(env_names.MODEL_PLUGINS, module, f"importable modules ({exc})") from exc
            spec = getattr(imported, "SPEC", None)
            if not isinstance(spec, ModelSpec):
                raise ConfigError(env_names.MODEL_PLUGINS, module, "modules that define SPEC, a ModelSpec")
            if spec.name in loaded:
                raise ConfigError(env_names.MODEL_PLUGINS, module, f"a model whose name is not taken ({spec.name})")
            loaded[spec.name] = spec
        _REGISTRY.update(loaded)


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model at run time (a plug-in, or a test's fake model); refuses to replace another."""
    _load_built_in()
    existing = _REGISTRY.get(spec.name)
    if existing is not None and existing is not spec:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model registered with `register` (built-in models stay)."""
    if name in _built_in_names():
        raise ValueError(f"{name!r} is a built-in model")
    _REGISTRY.pop(name, None)


def _built_in_names() -> set[str]:
    return {importlib.import_module(m).SPEC.name for m in _BUILT_IN}


def model_names() -> tuple[str, ...]:
    _load_built_in()
    return tuple(_REGISTRY)


def get_spec(name: str, field_name: str = "model") -> ModelSpec:
    """The spec of `name`; a ConfigError naming `field_name` and the known models otherwise."""
    _load_built_in()
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ConfigError(field_name, name, f"one of {', '.join(_REGISTRY)}")
    return spec


def pinned_artifacts() -> dict[str, PinnedArtifact]:
    """Every registered model's pinned artifact, by model name."""
    _load_built_in()
    return {name: spec.artifact for name, spec in _REGISTRY.items()}


def pinned_artifact(model: str, version: str | None = None) -> PinnedArtifact | None:
    """The pinned artifact of a registered `model` (at `version`, when given), or None."""
    artifact = pinned_artifacts().get(model)
    return artifact if artifact is not None and version in (None, artifact.version) else None

"""The registry is the one description of each model; the contract documents and the command follow it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from contract.validation import ConfigError
from inference.cli import main
from inference.documents import document_header
from inference.models.registry import ModelSpec, get_spec, model_names, pinned_artifact, register, unregister
from inference.pinned import PinnedArtifact

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "result-schema.json").read_text())
OPENAPI = yaml.safe_load((REPO / "openapi.yaml").read_text())
HEADER = {"schema_version", "model", "parameters", "audio"}


@pytest.mark.parametrize("name", model_names())
def test_each_model_has_its_schema_chosen_by_its_name(name: str) -> None:
    spec = get_spec(name)
    schema = SCHEMA["$defs"][name]
    assert {"$ref": f"#/$defs/{name}"} in SCHEMA["oneOf"]
    assert schema["properties"]["model"]["properties"]["name"] == {"const": name}
    assert set(schema["properties"]) - HEADER == set(spec.result_fields)
    assert set(schema["properties"]["parameters"]["properties"]) == set(spec.client_parameters) - {"precision"}


@pytest.mark.parametrize("name", model_names())
def test_each_models_parameters_are_in_openapi_with_its_ranges(name: str) -> None:
    spec = get_spec(name)
    query = {p["name"] for p in OPENAPI["paths"]["/predict"]["post"]["parameters"] if p["in"] == "query"}
    form = OPENAPI["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(spec.client_parameters) <= query and set(spec.client_parameters) <= set(form["properties"])
    assert {"model"} <= query and "model" in form["properties"]
    defaults = spec.default_parameters()
    for field in dataclasses.fields(spec.parameters):
        if field.name in spec.client_parameters:
            getattr(defaults, field.name)  # every client parameter has a default


def test_models_are_named_once_and_pinned() -> None:
    for name in model_names():
        spec = get_spec(name)
        assert spec.artifact.model == name and pinned_artifact(name) is spec.artifact
        assert pinned_artifact(name, "0.0.0-not-pinned") is None


def test_a_registered_model_cannot_take_a_taken_name_and_plugins_come_and_go() -> None:
    taken = dataclasses.replace(get_spec("silero-vad"), summary="another")
    with pytest.raises(ValueError, match="already registered"):
        register(taken)
    with pytest.raises(ValueError, match="built-in"):
        unregister("silero-vad")
    extra = dataclasses.replace(
        get_spec("silero-vad"),
        name="extra-vad",
        artifact=PinnedArtifact(
            model="extra-vad", version="1", package="p", wheel_sha256="0" * 64, member="m/x.onnx", sha256="1" * 64
        ),
    )
    try:
        assert register(extra) is extra and "extra-vad" in model_names()
    finally:
        unregister("extra-vad")
    assert "extra-vad" not in model_names()


def test_the_models_command_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in model_names():
        spec: ModelSpec = get_spec(name)
        assert f"{name}: {spec.summary}" in out and spec.artifact.sha256 in out


def test_every_document_starts_with_the_same_header() -> None:
    from inference.audio import AudioInfo
    from inference.models.base import EngineUsed, ModelDescription

    header = document_header(
        ModelDescription(name="m", version="1", sha256="0" * 64, sample_rate=16000),
        EngineUsed(runtime="onnxruntime", precision="exact", compute="f32"),
        {"a": 1},
        AudioInfo(duration_s=1.0, source_sample_rate=44100, channels=2, format="WAV"),
    )
    assert list(header) == ["schema_version", "model", "parameters", "audio"]


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        (
            "no_such_package.model",
            "INFERENCE_MODEL_PLUGINS='no_such_package.model' is invalid: allowed importable modules",
        ),
        ("inference.models.silero_vad.spec", "a model whose name is not taken (silero-vad)"),
    ],
)
def test_a_plugin_that_cannot_be_registered_is_named(plugins: str, message: str) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "inference", "models"],
        capture_output=True,
        text=True,
        env={**os.environ, "INFERENCE_MODEL_PLUGINS": plugins},
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_parameter_types_are_read_whether_annotations_are_strings_or_types() -> None:
    """A model's parameters module may or may not use `from __future__ import annotations`."""
    from typing import Optional

    from inference.config import coerce

    for annotation in (float, "float"):
        assert coerce("window_s", "0.7", annotation) == 0.7
    optional: tuple[object, ...] = (Optional[float], float | None, "float | None")  # noqa: UP045 - both spellings
    for optional_annotation in optional:
        assert coerce("limit", "null", optional_annotation) is None
        assert coerce("limit", "2", optional_annotation) == 2.0
    assert coerce("n", "3", int) == 3 and coerce("flag", "false", bool) is False


def test_no_two_models_share_a_parameter_name() -> None:
    """The API's parameters are one namespace (openapi.yaml's query parameters, the client's checks)."""
    names = [name for model in model_names() for name in get_spec(model).client_parameters]
    assert len(names) == len(set(names)) and "model" not in names


def _resolved(schema: dict[str, object]) -> dict[str, object]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return dict(OPENAPI["components"]["schemas"][ref.rsplit("/", 1)[-1]])
    return schema


@pytest.mark.parametrize("name", model_names())
def test_the_ranges_openapi_and_api_md_state_are_what_the_model_accepts(name: str) -> None:
    """A stranger sent midi_tempo=1, inside the documented 1-1,000, and got a 500 (MIDI cannot hold it):
    each documented bound is accepted, and just past it refused with a 422's ConfigError."""
    spec = get_spec(name)
    defaults = spec.default_parameters()
    form = OPENAPI["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    (row,) = [line for line in (REPO / "docs" / "api.md").read_text().splitlines() if line.startswith(f"| `{name}`")]
    checked = 0
    for field in spec.client_parameters:
        schema = _resolved(form["properties"][field])
        if "minimum" not in schema:
            continue
        low, high = float(schema["minimum"]), float(schema["maximum"])  # type: ignore[arg-type]
        for inside in (low, high):
            dataclasses.replace(defaults, **{field: inside})
        for outside in (low - max(1e-6, abs(low) * 1e-6), high + max(1e-6, abs(high) * 1e-6)):
            with pytest.raises(ConfigError):
                dataclasses.replace(defaults, **{field: outside})
        assert f"{low:,g}–{high:,g}" in row, (field, row)
        checked += 1
    assert checked >= 1

"""Each name, checksum and setting is written once: checked both ways, not promised in a comment."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from inference import env_names
from inference.config import AudioLimits, InferenceConfig, InferenceParameters, ModelSettings, load_config
from inference.errors import ConfigError
from inference.pinned import BASIC_PITCH, PINNED
from service.settings import ENVIRONMENT_VARIABLES, ServiceSettings

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {"model": ModelSettings, "audio": AudioLimits, "inference": InferenceParameters}


def test_every_inference_setting_has_a_variable_and_every_variable_a_setting() -> None:
    settings = {(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    assert set(env_names.INFERENCE_SETTINGS) == settings
    variables = list(env_names.INFERENCE_SETTINGS.values())
    assert len(set(variables)) == len(variables), "two settings share a variable"
    locations = {value for name, value in vars(env_names).items() if name.isupper() and isinstance(value, str)}
    assert locations == set(env_names.LOCATION_VARIABLES)


def test_variable_names_are_written_once_and_each_is_known() -> None:
    """Code reads variables through the two name modules; a name spelled anywhere else is a second source."""
    known = {*env_names.INFERENCE_SETTINGS.values(), *env_names.LOCATION_VARIABLES, *ENVIRONMENT_VARIABLES.values()}
    homes = {"src/inference/env_names.py", "src/service/settings.py"}
    literal = re.compile(r"""["'](INFERENCE_[A-Z0-9_]+|LOG_LEVEL)["']""")
    for path in tracked_code_files():
        relative = path.relative_to(REPO).as_posix()
        if not relative.endswith(".py") or relative.startswith("tests/"):
            continue
        for name in literal.findall(path.read_text()):
            if name in ("INFERENCE_IMAGE_TAG", "INFERENCE_IMAGE_DIGEST"):
                # app.py reads them; the operator commands set the digest for cdktf's synth (importing app.py
                # would cost them the AWS bindings' ~20 s)
                allowed = {"app.py"} | ({"scripts/operate.py"} if name == "INFERENCE_IMAGE_DIGEST" else set())
                assert relative in allowed, f"{relative}: synth-time override {name} belongs to app.py"
                continue
            assert name in known, f"{relative} reads {name}, which maps to no setting"
            assert relative in homes, f"{relative} spells out {name}; import it from its name module"


def test_every_inference_setting_survives_the_trip_through_its_variable() -> None:
    changed = InferenceConfig(
        model=ModelSettings(name="other-model", version="2", artifact_uri="s3://models/other/m.onnx", sha256="a" * 64),
        audio=AudioLimits(max_duration_s=30.5, max_upload_bytes=1234),
        inference=InferenceParameters(
            onset_threshold=0.61,
            frame_threshold=0.21,
            minimum_note_length_ms=50.5,
            minimum_frequency_hz=55.0,
            maximum_frequency_hz=2000.0,
            melodia_trick=False,
            include_pitch_bends=True,
            multiple_pitch_bends=True,
            midi_tempo=90.0,
            batch_size=4,
        ),
    )
    for section, cls in SECTIONS.items():  # every field differs from its default, so each one is exercised
        for f in dataclasses.fields(cls):
            assert getattr(getattr(changed, section), f.name) != getattr(getattr(InferenceConfig(), section), f.name)
    environment = changed.to_environment()
    assert set(environment) == set(env_names.INFERENCE_SETTINGS.values())
    assert load_config(environ=environment) == changed


def test_every_service_setting_has_a_variable_and_survives_the_trip() -> None:
    assert set(ENVIRONMENT_VARIABLES) == {f.name for f in dataclasses.fields(ServiceSettings)}
    assert len(set(ENVIRONMENT_VARIABLES.values())) == len(ENVIRONMENT_VARIABLES)
    assert not set(ENVIRONMENT_VARIABLES.values()) & set(env_names.INFERENCE_SETTINGS.values())
    settings = ServiceSettings(
        environment="qa",
        input_bucket="in-b",
        output_bucket="out-b",
        input_prefix="up/",
        output_prefix="res/",
        cors_allowed_origins=("https://a.example", "https://b.example"),
        log_level="DEBUG",
    )
    environment = settings.to_environment()
    assert set(environment) == set(ENVIRONMENT_VARIABLES.values())
    assert ServiceSettings.from_environment(environment) == settings


def test_fails_service_environment_without_a_variable() -> None:
    environment = ServiceSettings(environment="qa", input_bucket="i", output_bucket="o").to_environment()
    del environment["INFERENCE_OUTPUT_BUCKET"]
    with pytest.raises(ConfigError) as e:
        ServiceSettings.from_environment(environment)
    assert e.value.field == "INFERENCE_OUTPUT_BUCKET"


def test_model_checksum_defaults_to_the_pinned_artifacts() -> None:
    assert ModelSettings().sha256 == BASIC_PITCH.sha256
    assert load_config(environ={}).model.sha256 == BASIC_PITCH.sha256
    with pytest.raises(ConfigError) as e:
        ModelSettings(version="9.9.9")
    assert e.value.field == "model.sha256" and "no pinned artifact" in str(e.value)


def tracked_code_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    code = re.compile(r"(\.py|\.ya?ml|\.toml|\.txt|\.json|Makefile|Dockerfile)$")
    return [REPO / p for p in listed if code.search(p) and "__snapshots__" not in p and (REPO / p).is_file()]


@pytest.mark.parametrize("artifact", PINNED.values(), ids=list(PINNED))
def test_pinned_checksums_and_file_names_are_written_once(artifact: object) -> None:
    assert isinstance(artifact, type(BASIC_PITCH))
    needles: dict[str, list[str]] = {artifact.sha256: [], artifact.wheel_sha256: [], artifact.filename: []}
    for path in tracked_code_files():
        text = path.read_text(errors="ignore")
        for needle, found in needles.items():
            if needle in text:
                found.append(path.relative_to(REPO).as_posix())
    assert needles == {needle: ["src/inference/pinned.py"] for needle in needles}

"""Each name, checksum and setting is written once: checked both ways, not promised in a comment."""

from __future__ import annotations

import dataclasses

import pytest

from config.environments import DEV, PROD
from config.schema import EnvironmentConfig
from contract import env_names
from contract.settings import JobLimits, ServiceSettings
from contract.validation import ConfigError
from inference.config import AudioLimits, InferenceConfig, InferenceParameters, ModelSettings, load_config
from inference.pinned import BASIC_PITCH

SECTIONS = {"model": ModelSettings, "audio": AudioLimits, "inference": InferenceParameters}


def test_every_inference_setting_has_a_variable_and_every_variable_a_setting() -> None:
    settings = {(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    assert set(env_names.INFERENCE_SETTINGS) == settings
    variables = list(env_names.INFERENCE_SETTINGS.values())
    assert len(set(variables)) == len(variables), "two settings share a variable"
    single = {value for name, value in vars(env_names).items() if name.isupper() and isinstance(value, str)}
    assert single == {*env_names.LOCATION_VARIABLES, *env_names.SYNTH_OVERRIDES}


def test_every_inference_setting_survives_the_trip_through_its_variable() -> None:
    changed = InferenceConfig(
        model=ModelSettings(
            name="silero-vad",
            version="2",
            artifact_uri="s3://models/other/m.onnx",
            sha256="a" * 64,
            served="silero-vad",
        ),
        audio=AudioLimits(
            max_duration_s=30.5,
            max_upload_bytes=1234,
            min_sample_rate_hz=11025,
            max_sample_rate_hz=96000,
            max_channels=2,
            max_decoded_samples=5_000_000,
        ),
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
            precision="fast",
            runtime="openvino",
            threads=3,
        ),
    )
    for section, cls in SECTIONS.items():  # every field differs from its default, so each one is exercised
        for f in dataclasses.fields(cls):
            assert getattr(getattr(changed, section), f.name) != getattr(getattr(InferenceConfig(), section), f.name)
    environment = changed.to_environment()
    assert set(environment) == set(env_names.INFERENCE_SETTINGS.values())
    assert load_config(environ=environment) == changed


def service_field_paths(cls: type = ServiceSettings, prefix: str = "") -> set[str]:
    """Every leaf field of the settings type, dotted (jobs.max_duration_s)."""
    paths: set[str] = set()
    for f in dataclasses.fields(cls):
        nested = JobLimits if f.name == "jobs" else None
        paths |= service_field_paths(nested, f"{prefix}{f.name}.") if nested else {f"{prefix}{f.name}"}
    return paths


def test_every_service_setting_has_a_variable_and_survives_the_trip() -> None:
    assert set(env_names.SERVICE_SETTINGS) == service_field_paths()
    assert len(set(env_names.SERVICE_SETTINGS.values())) == len(env_names.SERVICE_SETTINGS)
    assert not set(env_names.SERVICE_SETTINGS.values()) & set(env_names.INFERENCE_SETTINGS.values())
    settings = ServiceSettings(
        environment="qa",
        input_bucket="in-b",
        output_bucket="out-b",
        input_prefix="up/",
        output_prefix="res/",
        cors_allowed_origins=("https://a.example", "https://b.example"),
        log_level="DEBUG",
        jobs=JobLimits(
            max_duration_s=61,
            max_upload_bytes=1234,
            upload_url_expiry_s=70,
            max_receives=9,
            max_decoded_samples=777,
            max_jobs_in_flight=4,
            max_audio_s_per_day=3600,
        ),
        consumer_job_limits=("web-app:3:7200", "batch-partner:2:60"),
        job_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q",
    )
    for f in dataclasses.fields(JobLimits):  # every limit differs from its default, so each one is exercised
        assert getattr(settings.jobs, f.name) != getattr(JobLimits(), f.name)
    environment = settings.to_environment()
    assert set(environment) == set(env_names.SERVICE_SETTINGS.values())
    assert ServiceSettings.from_environment(environment) == settings


@pytest.mark.parametrize("env", [DEV, PROD], ids=["dev", "prod"])
def test_an_environments_values_reach_the_service_unchanged(env: EnvironmentConfig) -> None:
    """The values the service enforces are the environment's own: same names, same units, no copies."""
    settings = env.service_settings(input_bucket="in", output_bucket="out")
    read_back = ServiceSettings.from_environment(settings.to_environment())
    assert read_back.jobs == env.jobs.limits()
    assert (read_back.jobs.max_upload_bytes, read_back.jobs.max_duration_s) == (
        env.jobs.max_upload_bytes,
        env.jobs.max_duration_s,
    )
    assert (read_back.input_prefix, read_back.output_prefix) == (env.storage.input_prefix, env.storage.output_prefix)
    assert read_back.cors_allowed_origins == env.api.cors_allowed_origins
    assert read_back.log_level == env.function.log_level


def test_fails_service_environment_without_a_variable() -> None:
    environment = DEV.service_settings(input_bucket="i", output_bucket="o").to_environment()
    del environment["INFERENCE_OUTPUT_BUCKET"]
    with pytest.raises(ConfigError) as e:
        ServiceSettings.from_environment(environment)
    assert e.value.field == "INFERENCE_OUTPUT_BUCKET"


@pytest.mark.parametrize("raw", ["1_0", " ", "٣", "１２", "1.5", "0x10"])
def test_fails_service_environment_with_a_number_outside_ascii_decimal(raw: str) -> None:
    environment = DEV.service_settings(input_bucket="i", output_bucket="o").to_environment()
    environment["INFERENCE_JOB_MAX_RECEIVES"] = raw
    with pytest.raises(ConfigError) as e:
        ServiceSettings.from_environment(environment)
    assert e.value.field == "INFERENCE_JOB_MAX_RECEIVES"


def test_model_checksum_defaults_to_the_pinned_artifacts() -> None:
    assert ModelSettings().sha256 == BASIC_PITCH.sha256
    assert load_config(environ={}).model.sha256 == BASIC_PITCH.sha256
    with pytest.raises(ConfigError) as e:
        ModelSettings(version="9.9.9")
    assert e.value.field == "model.sha256" and "no pinned artifact" in str(e.value)

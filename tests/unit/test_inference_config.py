"""The inference configuration: file values, environment overrides, validation."""

from __future__ import annotations

import pytest

from contract.validation import ConfigError
from inference.config import InferenceParameters, ModelSettings, load_config


def write(tmp_path, text):
    path = tmp_path / "inference.yaml"
    path.write_text(text)
    return path


def test_repository_file_loads_with_basic_pitch_defaults():
    config = load_config(environ={})
    assert config.model.name == "basic-pitch" and config.model.version == "0.4.0"
    p = config.inference
    assert (p.onset_threshold, p.frame_threshold, p.minimum_note_length_ms) == (0.5, 0.3, 127.7)
    assert p.melodia_trick is True and p.minimum_frequency_hz is None


def test_environment_overrides_the_file():
    config = load_config(
        environ={
            "INFERENCE_ONSET_THRESHOLD": "0.65",
            "INFERENCE_MELODIA_TRICK": "false",
            "INFERENCE_MAXIMUM_FREQUENCY_HZ": "2000",
            "INFERENCE_MAX_DURATION_S": "30",
        }
    )
    assert config.inference.onset_threshold == 0.65
    assert config.inference.melodia_trick is False
    assert config.inference.maximum_frequency_hz == 2000.0
    assert config.audio.max_duration_s == 30.0


def test_environment_round_trips_through_to_environment():
    config = load_config(environ={"INFERENCE_MINIMUM_FREQUENCY_HZ": "55"})
    assert load_config(environ=config.to_environment()) == config


def test_fails_threshold_above_one(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(environ={"INFERENCE_ONSET_THRESHOLD": "1.5"})
    assert e.value.field == "inference.onset_threshold" and "0.05 to 0.95" in str(e.value)


def test_fails_non_numeric_environment_value():
    with pytest.raises(ConfigError) as e:
        load_config(environ={"INFERENCE_FRAME_THRESHOLD": "high"})
    assert e.value.field == "inference.frame_threshold" and e.value.value == "high"


def test_fails_bad_boolean():
    with pytest.raises(ConfigError) as e:
        load_config(environ={"INFERENCE_MELODIA_TRICK": "maybe"})
    assert "true or false" in str(e.value)


def test_fails_min_frequency_not_below_max():
    with pytest.raises(ConfigError) as e:
        InferenceParameters(minimum_frequency_hz=1000.0, maximum_frequency_hz=500.0)
    assert e.value.field == "inference.minimum_frequency_hz"


def test_fails_batch_size_zero():
    with pytest.raises(ConfigError):
        load_config(environ={"INFERENCE_BATCH_SIZE": "0"})


def test_fails_fractional_batch_size():
    with pytest.raises(ConfigError):
        load_config(environ={"INFERENCE_BATCH_SIZE": "2.5"})


def test_fails_bad_sha256():
    with pytest.raises(ConfigError) as e:
        ModelSettings(sha256="abc")
    assert e.value.field == "model.sha256"


def test_fails_unknown_uri_scheme():
    with pytest.raises(ConfigError) as e:
        ModelSettings(artifact_uri="https://example.com/model.onnx")
    assert e.value.field == "model.artifact_uri"


def test_fails_unknown_field_in_file(tmp_path):
    path = write(tmp_path, "inference:\n  onset_treshold: 0.4\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, environ={})
    assert e.value.field == "inference.onset_treshold" and "onset_threshold" in str(e.value)


def test_fails_unknown_section(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "modle:\n  name: x\n"), environ={})


def test_fails_unreadable_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "missing.yaml", environ={})
    assert e.value.field == "config_file"


def test_fails_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "inference: [unclosed\n"), environ={})


def test_fails_empty_required_value():
    with pytest.raises(ConfigError):
        load_config(environ={"INFERENCE_ONSET_THRESHOLD": ""})


def test_without_the_repository_file_the_environment_fills_in_the_defaults(tmp_path, monkeypatch):
    """The Lambda image has no config/ folder: the stacks put every value in the environment."""
    from inference import config as config_module

    from_file = load_config(environ={})
    written = from_file.to_environment()  # what the stacks copy into the function's environment
    monkeypatch.setattr(config_module, "REPO_CONFIG_FILE", tmp_path / "absent.yaml")
    assert load_config(environ={"INFERENCE_ONSET_THRESHOLD": "0.7"}).inference.onset_threshold == 0.7
    assert load_config(environ=written) == from_file


def test_fails_an_explicit_config_file_that_is_missing(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(environ={"INFERENCE_CONFIG_FILE": str(tmp_path / "missing.yaml")})
    assert e.value.field == "config_file"

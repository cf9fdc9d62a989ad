"""README's configuration reference lists every setting there is, and no setting that is gone."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from config.schema import (
    AlarmSettings,
    ApiSettings,
    CiIdentities,
    EncryptionSettings,
    EnvironmentConfig,
    FunctionSettings,
    JobSettings,
    ModelStoreSettings,
    RegistrySettings,
    StorageSettings,
    WafSettings,
)
from contract import env_names

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
NESTED = {
    "function": FunctionSettings,
    "api": ApiSettings,
    "storage": StorageSettings,
    "model_store": ModelStoreSettings,
    "registry": RegistrySettings,
    "jobs": JobSettings,
    "encryption": EncryptionSettings,
    "alarms": AlarmSettings,
    "waf": WafSettings,
    "ci": CiIdentities,
}


def documented_settings() -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9_.]+)` \|", README, flags=re.MULTILINE))


def test_every_environment_setting_is_in_the_readme():
    expected = {f.name for f in dataclasses.fields(EnvironmentConfig) if f.name not in NESTED}
    for prefix, cls in NESTED.items():
        expected |= {f"{prefix}.{f.name}" for f in dataclasses.fields(cls)}
    documented = documented_settings()
    assert expected - documented == set(), "settings missing from README"


def test_every_inference_setting_and_variable_is_in_the_readme():
    documented = documented_settings()
    for (section, field), variable in env_names.INFERENCE_SETTINGS.items():
        assert f"{section}.{field}" in documented
        assert f"`{variable}`" in README


def test_every_service_variable_is_in_the_readme():
    for field, variable in env_names.SERVICE_SETTINGS.items():
        assert f"| `{field}` | `{variable}` |" in README, field

"""docs/configuration.md is what `make docs` writes from the code: every setting, nothing by hand."""

from __future__ import annotations

import dataclasses

from config import reference
from config.schema import EnvironmentConfig
from contract import env_names


def test_the_committed_reference_is_what_make_docs_writes() -> None:
    assert reference.OUTPUT.read_text() == reference.render(), "docs/configuration.md is stale: run `make docs`"


def test_every_setting_has_a_docstring() -> None:
    assert reference.undocumented() == []


def test_every_setting_and_variable_is_in_the_reference() -> None:
    text = reference.render()
    for field in dataclasses.fields(EnvironmentConfig):
        group = reference.nested_dataclass(field)
        names = [f"{field.name}.{f.name}" for f in dataclasses.fields(group)] if group else [field.name]
        for name in names:
            assert f"| `{name}` |" in text, name
    for (section, name), variable in env_names.INFERENCE_SETTINGS.items():
        assert f"| `{section}.{name}` | `{variable}` |" in text
    for name, variable in env_names.SERVICE_SETTINGS.items():
        assert f"| `{name}` | `{variable}` |" in text
    for variable in (*env_names.LOCATION_VARIABLES, *env_names.SYNTH_OVERRIDES):
        assert f"| `{variable}` |" in text


def test_a_field_docstring_is_read_from_under_the_field() -> None:
    docs = reference.field_docstrings(EnvironmentConfig)
    assert docs["name"].startswith("Short name used in stack and resource names")
    assert "function" not in docs  # a group: its class's docstring heads its section instead

"""Each default has one home: a value the environment's settings give has no second default in a construct."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from config.schema import (
    AlarmSettings,
    ApiSettings,
    EnvironmentConfig,
    FunctionSettings,
    RegistrySettings,
    StorageSettings,
    WafSettings,
)

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # the constructs load the AWS bindings (~20 s), imported inside the tests

PAIRS = {
    "container_function.ContainerFunctionProps": (FunctionSettings, EnvironmentConfig),
    "rest_api.RestApiProps": (ApiSettings, EnvironmentConfig),
    "image_repository.ImageRepositoryProps": (RegistrySettings,),
    "secure_bucket.SecureBucketProps": (StorageSettings,),
    "alarms.AlarmsProps": (AlarmSettings,),
    "web_acl.WebAclProps": (WafSettings, EnvironmentConfig),
}


def props_class(name: str) -> type:
    module, cls = name.split(".")
    props: type = getattr(importlib.import_module(f"infra_constructs.{module}"), cls)
    return props


def default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize("name", PAIRS)
def test_a_setting_the_environment_gives_has_no_default_in_the_construct(name: str) -> None:
    """The stacks pass each of these explicitly: leaving one out is a TypeError, never a silent default."""
    props, settings = props_class(name), PAIRS[name]
    setting_names = {f.name for cls in settings for f in dataclasses.fields(cls)}
    shared = [f for f in dataclasses.fields(props) if f.name in setting_names]
    assert len(shared) >= 2, f"{props.__name__} shares no field with {settings}: is the pairing stale?"
    defaulted = [f.name for f in shared if default_of(f) is not dataclasses.MISSING]
    assert defaulted == [], f"{props.__name__} repeats the settings' defaults of {defaulted}"


def test_no_props_default_allows_every_origin() -> None:
    for props in (props_class("rest_api.RestApiProps"), props_class("secure_bucket.SecureBucketProps")):
        for field in dataclasses.fields(props):
            assert "*" not in (default_of(field) if isinstance(default_of(field), tuple) else ()), field.name


def props_calls_in_the_stacks() -> dict[str, list[set[str]]]:
    """Each `SomethingProps(...)` call in stacks/ and app.py, by class name: the keywords it passes."""
    calls: dict[str, list[set[str]]] = {}
    for path in [*sorted((REPO / "stacks").glob("*.py")), REPO / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Props"):
                if any(k.arg is None for k in node.keywords):  # **spread: cannot be read statically
                    continue
                calls.setdefault(node.func.id, []).append({k.arg for k in node.keywords if k.arg})
    return calls


def settings_defaults() -> set[tuple[type, Any]]:
    """(type, value) of every default the environment's settings hold, nested settings included."""
    from config import schema
    from contract import settings

    classes = [c for c in vars(schema).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]
    classes += [settings.JobLimits]
    found = set()
    for cls in classes:
        for field in dataclasses.fields(cls):
            value = default_of(field)
            if value is not dataclasses.MISSING and not dataclasses.is_dataclass(value):
                found.add((type(value), repr(value)))
    return found


def meaningful(value: Any) -> bool:
    """A value that identifies a setting: not None, a flag or an empty value, which many fields share."""
    return value is not dataclasses.MISSING and value is not None and not isinstance(value, bool) and value != ()


def test_a_props_default_that_repeats_a_setting_is_not_kept() -> None:
    """Found by what it is, not by its name: a props field every stack call sets, whose default is the value of
    one of the settings' defaults, is a second copy of that value (the key's deletion window was one: 30 in
    EncryptionKeyProps.deletion_window_days and in EncryptionSettings.key_deletion_window_days)."""
    import infra_constructs

    classes = {
        name: cls
        for module in pkgutil.iter_modules(infra_constructs.__path__)
        for name, cls in vars(importlib.import_module(f"infra_constructs.{module.name}")).items()
        if name.endswith("Props") and dataclasses.is_dataclass(cls)
    }
    calls = props_calls_in_the_stacks()
    assert calls, "no props calls found in stacks/: has the layout moved?"
    defaults = settings_defaults()
    repeated = []
    for name, sites in calls.items():
        for field in dataclasses.fields(classes[name]):
            value = default_of(field)
            if not meaningful(value) or not all(field.name in passed for passed in sites):
                continue
            if (type(value), repr(value)) in defaults:
                repeated.append(f"{name}.{field.name}={value!r}")
    assert repeated == [], (
        f"props defaults that repeat a setting's (drop them; the settings hold the value): {repeated}"
    )

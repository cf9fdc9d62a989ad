"""Each default has one home: a value the environment's settings give has no second default in a construct."""

from __future__ import annotations

import dataclasses
import importlib
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

"""Construct props default to what the environment settings default to: no unsafe or contradicting defaults."""

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
def test_props_defaults_equal_the_settings_defaults(name: str) -> None:
    props, settings = props_class(name), PAIRS[name]
    shared = 0
    for field in dataclasses.fields(props):
        for setting_class in settings:
            matching = {f.name: f for f in dataclasses.fields(setting_class)}.get(field.name)
            if matching is not None and default_of(field) is not dataclasses.MISSING:
                shared += 1
                assert default_of(field) == default_of(matching), f"{props.__name__}.{field.name}"
    assert shared >= 2, f"{props.__name__} shares no defaulted field with {settings}: is the pairing stale?"


def test_no_props_default_allows_every_origin() -> None:
    for props in (props_class("rest_api.RestApiProps"), props_class("secure_bucket.SecureBucketProps")):
        for field in dataclasses.fields(props):
            assert "*" not in (default_of(field) if isinstance(default_of(field), tuple) else ()), field.name


def test_props_take_same_named_settings_first_source_first_and_explicit_values_last() -> None:
    from infra_constructs.container_function import ContainerFunctionProps
    from stacks.base import props_from

    env = EnvironmentConfig(name="qa", log_retention_days=14, function=FunctionSettings(memory_mb=1024))
    props = props_from(ContainerFunctionProps, env.function, env, function_name="f", image_uri="r:t", timeout_s=30)
    assert (props.memory_mb, props.log_retention_days, props.timeout_s) == (1024, 14, 30)
    assert props.reserved_concurrency == env.function.reserved_concurrency
    assert not hasattr(props, "image_tag"), "settings the props do not have stay out"

"""Construct props default to what the environment settings default to: no unsafe or contradicting defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from config.environments import (
    ApiSettings,
    EnvironmentConfig,
    FunctionSettings,
    RegistrySettings,
    StorageSettings,
)
from infra_constructs.container_function import ContainerFunctionProps
from infra_constructs.image_repository import ImageRepositoryProps
from infra_constructs.rest_api import RestApiProps
from infra_constructs.secure_bucket import SecureBucketProps

pytestmark = pytest.mark.slow  # importing the constructs loads the AWS bindings

PAIRS = [
    (ContainerFunctionProps, (FunctionSettings, EnvironmentConfig)),
    (RestApiProps, (ApiSettings, EnvironmentConfig)),
    (ImageRepositoryProps, (RegistrySettings,)),
    (SecureBucketProps, (StorageSettings,)),
]


def default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize("props, settings", PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_props_defaults_equal_the_settings_defaults(props: type, settings: tuple[type, ...]) -> None:
    shared = 0
    for field in dataclasses.fields(props):
        for setting_class in settings:
            matching = {f.name: f for f in dataclasses.fields(setting_class)}.get(field.name)
            if matching is not None and default_of(field) is not dataclasses.MISSING:
                shared += 1
                assert default_of(field) == default_of(matching), f"{props.__name__}.{field.name}"
    assert shared >= 2, f"{props.__name__} shares no defaulted field with {settings}: is the pairing stale?"


def test_no_props_default_allows_every_origin() -> None:
    for props in (RestApiProps, SecureBucketProps):
        for field in dataclasses.fields(props):
            assert "*" not in (default_of(field) if isinstance(default_of(field), tuple) else ()), field.name

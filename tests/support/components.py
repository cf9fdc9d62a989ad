"""Real components the slow tiers need, and how a missing one is reported.

On a developer's machine, under `make test-fast` or a bare `pytest`, a missing
component skips the test with the reason. `make test` sets REQUIRE_COMPONENTS=1
and CI sets CI=true: then a missing component fails the run instead, so a
green `make test` always means every tier really ran.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from operations import terraform_mirror

REQUIRE_COMPONENTS_ENV = "REQUIRE_COMPONENTS"


def skipping_forbidden() -> bool:
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes") for name in ("CI", REQUIRE_COMPONENTS_ENV))


def missing(reason: str) -> NoReturn:
    """Skip locally, fail under `make test` and CI."""
    if skipping_forbidden():
        pytest.fail(f"required component missing: {reason}", pytrace=False)
    pytest.skip(reason)


def terraform_binary() -> str:
    path = shutil.which("terraform")
    if path is None:
        missing("terraform is not on PATH (install terraform >= 1.10)")
    return path


def provider_mirror() -> Path | None:
    """The offline provider mirror named by $TF_PROVIDER_MIRROR; None: install from the registry.

    A variable that is set but names no mirror is a mistake worth stopping for,
    not a reason to go to the network instead.
    """
    value = os.environ.get(terraform_mirror.MIRROR_ENV, "").strip()
    if not value:
        return None
    mirror = terraform_mirror.mirror_dir()
    if mirror is None:
        missing(f"${terraform_mirror.MIRROR_ENV}={value!r} does not hold registry.terraform.io/hashicorp/aws")
    return mirror

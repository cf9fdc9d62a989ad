"""Real components the slow tiers need, and how a missing one is reported.

On a developer's machine a missing component skips the test with the reason;
under CI (CI=true) it fails the run instead, so a green CI always means the
tier really ran.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import terraform_mirror  # noqa: E402


def skipping_forbidden() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip locally, fail under CI."""
    if skipping_forbidden():
        pytest.fail(f"required component missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def terraform_binary() -> str:
    path = shutil.which("terraform")
    if path is None:
        missing("terraform is not on PATH")
    return path


def provider_mirror() -> Path:
    mirror = terraform_mirror.mirror_dir()
    if mirror is None:
        missing(
            f"${terraform_mirror.MIRROR_ENV} does not point at an offline provider mirror holding hashicorp/aws"
        )
    return mirror

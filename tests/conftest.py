"""Shared fixtures: one synth of every stack per test session (the bindings cost ~20 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
STACK_NAMES = ("inference-dev", "inference-dev-registry", "inference-prod", "inference-prod-registry")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesize the app once, without synth-time overrides, into a temp folder."""
    from app import build_app
    from stacks.base import check_policies

    outdir = tmp_path_factory.mktemp("cdktf.out")
    app = build_app(outdir=str(outdir), environ={})
    app.synth()
    check_policies(app)
    return outdir


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((synth_dir / "stacks" / name / "cdk.tf.json").read_text()) for name in STACK_NAMES
    }


def resources_of(stack: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(resource_type, {})


def one_resource(stack: dict[str, Any], resource_type: str, path_suffix: str = "") -> dict[str, Any]:
    """The single resource of a type (optionally whose construct path ends with `path_suffix`)."""
    found = [
        r
        for r in resources_of(stack, resource_type).values()
        if r["//"]["metadata"]["path"].endswith(path_suffix)
    ]
    assert len(found) == 1, f"expected one {resource_type} ending {path_suffix!r}, found {len(found)}"
    return found[0]

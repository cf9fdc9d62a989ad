"""Snapshot of every stack's synthesized Terraform JSON (review the diff when it changes)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.support.stacks import Stack, stack_names


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack_name", stack_names())
def test_stack_matches_snapshot(stacks: dict[str, Stack], snapshot_json: Any, stack_name: str) -> None:
    assert stacks[stack_name] == snapshot_json


@pytest.mark.parametrize("stack_name", stack_names())
def test_snapshot_has_no_machine_specific_values(stacks: dict[str, Stack], stack_name: str) -> None:
    text = json.dumps(stacks[stack_name])
    assert not re.search(r'"/(home|root|tmp|work|Users|var)/', text), "absolute path in synthesized JSON"
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text), "timestamp in synthesized JSON"


def test_the_app_builds_a_registry_and_an_inference_stack_per_environment(synth_dir: Any) -> None:
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(stack_names())

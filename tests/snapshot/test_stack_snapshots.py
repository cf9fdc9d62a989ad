"""Snapshot of every stack's synthesized Terraform JSON (review the diff when it changes)."""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import STACK_NAMES


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.slow
@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_stack_matches_snapshot(stacks, snapshot_json, stack_name):
    assert stacks[stack_name] == snapshot_json


@pytest.mark.slow
@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_snapshot_has_no_machine_specific_values(stacks, stack_name):
    text = json.dumps(stacks[stack_name])
    assert not re.search(r'"/(home|root|tmp|work|Users|var)/', text), "absolute path in synthesized JSON"
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text), "timestamp in synthesized JSON"

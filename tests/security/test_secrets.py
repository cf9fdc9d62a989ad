"""No secret value in any synthesized file, and none for Terraform state: no API key is a resource
(operations/keys.py makes them, outside Terraform).

Two checks. detect-secrets' pattern plugins (AWS keys, private keys, tokens of known services) over
every file `cdktf synth` writes; its entropy and keyword plugins are left out because a synthesized
stack is full of hash-suffixed logical IDs and checksums (the model's sha256), which they flag by
design. Instead, a structural walk: no attribute named like a secret holds a literal string, and every
output that exposes a secret attribute is marked sensitive.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.components import missing
from tests.support.stacks import Stack, stack_names

REPO = Path(__file__).resolve().parents[2]
DETECT_SECRETS = REPO / "build" / "scanners" / "bin" / "detect-secrets"
NOISY_PLUGINS = {"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"}
SECRET_NAME = re.compile(r"password|secret|token|private_key|credential|api_key_value|^value$", re.IGNORECASE)
SECRET_ATTRIBUTES = {"aws_api_gateway_api_key": ("value",), "aws_iam_access_key": ("secret", "ses_smtp_password_v4")}


def detect_secrets(directory: Path) -> dict[str, list[str]]:
    if not DETECT_SECRETS.exists():
        missing("detect-secrets is not installed: `make setup` builds build/scanners from requirements-scanners.txt")
    result = subprocess.run(
        [str(DETECT_SECRETS), "scan", "--all-files", "."],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found: dict[str, list[str]] = {}
    for filename, findings in json.loads(result.stdout)["results"].items():
        kept = [f"{f['type']} at line {f['line_number']}" for f in findings if f["type"] not in NOISY_PLUGINS]
        if kept:
            found[filename] = kept
    return found


def test_no_synthesized_file_holds_a_known_secret_pattern(synth_dir: Path) -> None:
    files = [p for p in synth_dir.rglob("*") if p.is_file()]
    assert any(p.name == "cdk.tf.json" for p in files)
    assert detect_secrets(synth_dir) == {}


def test_the_scan_would_catch_a_planted_access_key(synth_dir: Path, tmp_path: Path) -> None:
    planted = tmp_path / "synth"
    shutil.copytree(synth_dir, planted)
    stack_file = planted / "stacks" / stack_names()[0] / "cdk.tf.json"
    stack = json.loads(stack_file.read_text())
    stack["locals"] = {"leaked": "AKIA" + "ZX4PQ7RT2MNB8LKW"}
    stack_file.write_text(json.dumps(stack, indent=2))
    assert list(detect_secrets(planted)) == [str(stack_file.relative_to(planted))]


def _literal_secrets(node: Any, path: str) -> list[str]:
    """Attributes named like a secret whose value is a literal, not a reference to a resource."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "//":
                continue  # cdktf's metadata: construct paths and logical IDs
            if isinstance(value, str) and SECRET_NAME.search(key) and value and "${" not in value:
                found.append(f"{path}.{key}")
            found.extend(_literal_secrets(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_literal_secrets(item, f"{path}[{index}]"))
    return found


@pytest.mark.parametrize("stack_name", stack_names())
def test_no_secret_is_written_as_a_literal(stacks: dict[str, Stack], stack_name: str) -> None:
    stack = stacks[stack_name]
    assert _literal_secrets(stack.get("resource", {}), "resource") == []
    assert _literal_secrets(stack.get("variable", {}), "variable") == []


@pytest.mark.parametrize("stack_name", stack_names())
def test_every_output_exposing_a_secret_is_sensitive(stacks: dict[str, Stack], stack_name: str) -> None:
    stack = stacks[stack_name]
    secret_references = [
        f"{resource_type}.{name}.{attribute}"
        for resource_type, attributes in SECRET_ATTRIBUTES.items()
        for name in stack.get("resource", {}).get(resource_type, {})
        for attribute in attributes
    ]
    exposed = {
        output: body.get("sensitive") is True
        for output, body in stack.get("output", {}).items()
        if any(reference in json.dumps(body["value"]) for reference in secret_references)
    }
    assert all(exposed.values()), exposed
    for function in stack.get("resource", {}).get("aws_lambda_function", {}).values():
        variables = json.dumps(function.get("environment", {}))
        assert not any(reference in variables for reference in secret_references), "a secret in a function's env"
    assert "aws_api_gateway_api_key" not in stack.get("resource", {}), "key values never pass through state"
    assert exposed == {}, "no output exposes a secret (make keys shows a key's value once, outside Terraform)"

"""checkov on every synthesized stack: zero failed checks with the project's config (.checkov.yaml),
whose every skip carries its reason; the raw count without that file is printed so it stays visible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.components import missing
from tests.support.stacks import stack_names

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / "build" / "scanners" / "bin" / "checkov"
CONFIG = REPO / ".checkov.yaml"


def checkov(stack_file: Path, *, with_config: bool) -> dict[str, Any]:
    if not CHECKOV.exists():
        missing("checkov is not installed: `make setup` builds build/scanners from requirements-scanners.txt")
    options = ["--config-file", str(CONFIG)] if with_config else ["--framework", "terraform_json"]
    options.append("--skip-download")  # offline: no policy metadata from the vendor's platform
    result = subprocess.run(
        [str(CHECKOV), *options, "-f", str(stack_file), "--output", "json", "--quiet"],
        capture_output=True,
        text=True,
        cwd=stack_file.parent,
        timeout=600,
    )
    report: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    assert "summary" in report, (
        f"checkov did not report on {stack_file}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )
    return report


def skipped_ids() -> list[str]:
    ids: list[str] = []
    for line in CONFIG.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- CKV"):
            ids.append(stripped[2:].split()[0])
    return ids


def test_every_skip_has_its_reason_beside_it() -> None:
    """A skip's reason is the comment block right above it (checks that share a reason sit together)."""
    lines = [line.strip() for line in CONFIG.read_text().splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("- CKV"):
            above = index - 1
            while lines[above].startswith("- CKV"):
                above -= 1
            reason: list[str] = []
            while lines[above].startswith("#"):
                reason.insert(0, lines[above].lstrip("# "))
                above -= 1
            assert len(" ".join(reason)) > 40, f"{line} has no reason above it"
    assert len(skipped_ids()) == len(set(skipped_ids()))


@pytest.mark.parametrize("stack_name", stack_names())
def test_checkov_finds_nothing(synth_dir: Path, stack_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    stack_file = synth_dir / "stacks" / stack_name / "cdk.tf.json"
    configured = checkov(stack_file, with_config=True)
    failed = [f"{c['check_id']} {c['resource']}" for c in configured["results"]["failed_checks"]]
    assert failed == [], failed
    raw = checkov(stack_file, with_config=False)["summary"]["failed"]
    with capsys.disabled():
        print(
            f"\ncheckov {stack_name}: passed {configured['summary']['passed']}, failed 0 "
            f"({len(skipped_ids())} checks skipped in .checkov.yaml hide {raw} raw findings)"
        )

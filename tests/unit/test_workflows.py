"""The adopters' GitHub workflows: every action pinned by commit, least privilege declared, and the
same commands the project documents (`make test`, `make diff`, `make deploy`). actionlint and zizmor
check the rest in `make lint`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_the_three_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "plan.yml", "tests.yml"]


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version_beside_it() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                reference, _, comment = line.split("uses:", 1)[1].partition("#")
                assert PINNED.match(reference.strip()), f"{path.name}: {line.strip()}"
                assert re.match(r"\s*v\d+\.\d+\.\d+$", comment), f"{path.name}: {line.strip()} (say which version)"


def test_permissions_are_declared_and_least() -> None:
    assert load("tests.yml")["permissions"] == {"contents": "read"}
    assert load("plan.yml")["permissions"] == {"contents": "read", "id-token": "write"}
    assert load("deploy.yml")["permissions"] == {"contents": "read", "id-token": "write"}
    for path in WORKFLOWS.glob("*.yml"):
        for step in steps(load(path.name)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_they_run_the_projects_own_commands() -> None:
    runs = {
        name: " ".join(s.get("run", "") for s in steps(load(name))) for name in ("tests.yml", "plan.yml", "deploy.yml")
    }
    assert "make test" in runs["tests.yml"]
    assert "make diff ENV=prod" in runs["plan.yml"]
    assert "make deploy ENV=prod" in runs["deploy.yml"]
    deploy = load("deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}}  # YAML 1.1 reads the key `on` as True
    assert load("plan.yml")[True] == {"pull_request": {"branches": ["main"]}}
    assert deploy["concurrency"]["cancel-in-progress"] is False

"""The adopters' GitHub workflows: every action pinned by commit, least privilege declared, and the
same commands the project documents (`make test`, `make diff`, `make deploy`). actionlint and zizmor
check the rest in `make lint`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from config.schema import CiIdentities
from operations import ci_policies

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
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


def test_the_workflows_present_the_subjects_the_ci_roles_trust() -> None:
    """A job with `environment:` gets sub ...:environment:<name>, which the deploy role's trust
    (ref:refs/heads/<deploy_branch>) refuses; the plan runs on pull_request, whose sub ends :pull_request."""
    ci = CiIdentities(repository="octo-org/audio-inference")
    deploy = load("deploy.yml")
    assert all("environment" not in job for job in deploy["jobs"].values())
    assert deploy[True]["push"]["branches"] == [ci.deploy_branch]
    assert ci_policies.deploy_subject(ci) == f"repo:octo-org/audio-inference:ref:refs/heads/{ci.deploy_branch}"
    plan = load("plan.yml")
    assert list(plan[True]) == ["pull_request"] and all("environment" not in job for job in plan["jobs"].values())
    assert ci_policies.plan_subject(ci) == "repo:octo-org/audio-inference:pull_request"
    roles = {
        name: " ".join(str(s.get("with", {}).get("role-to-assume")) for s in steps(load(name)))
        for name in ("plan.yml", "deploy.yml")
    }
    assert "vars.AWS_PLAN_ROLE_ARN" in roles["plan.yml"] and "vars.AWS_DEPLOY_ROLE_ARN" in roles["deploy.yml"]
    # The deploy role trusts job_workflow_ref = <repo>/.github/workflows/deploy.yml@refs/heads/<branch>: the
    # jobs that assume it are deploy.yml's own (a job calling a reusable workflow would present that one's).
    assert (
        ci_policies.DEPLOY_WORKFLOW == ".github/workflows/deploy.yml" and (REPO / ci_policies.DEPLOY_WORKFLOW).is_file()
    )
    assert all("uses" not in job for job in deploy["jobs"].values())
    assert ci_policies.deploy_claims(ci)["job_workflow_ref"] == (
        f"octo-org/audio-inference/.github/workflows/deploy.yml@refs/heads/{ci.deploy_branch}"
    )


def test_dependencies_install_before_any_credentials_exist() -> None:
    """No package's install script runs with a role assumed: `make install` (hash-locked pip, npm ci, the
    models) comes before the credentials step, and nothing after it installs."""
    for name in ("plan.yml", "deploy.yml"):
        names = [s.get("run", "") or s.get("uses", "") for s in steps(load(name))]
        credentials = next(i for i, n in enumerate(names) if n.startswith("aws-actions/configure-aws-credentials"))
        assert "make install" in names[:credentials], name
        assert not any(re.search(r"\b(pip|npm|npx) ", n) for n in names[credentials:]), name

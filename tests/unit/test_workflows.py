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
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_three_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "plan.yml", "tests.yml"]


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version_beside_it() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line and "uses: ./.github/workflows/" not in line:  # this repository's own workflow
                reference, _, comment = line.split("uses:", 1)[1].partition("#")
                assert PINNED.match(reference.strip()), f"{path.name}: {line.strip()}"
                assert re.match(r"\s*v\d+\.\d+\.\d+$", comment), f"{path.name}: {line.strip()} (say which version)"


def test_permissions_are_declared_and_least() -> None:
    assert load("tests.yml")["permissions"] == {"contents": "read"}
    assert load("plan.yml")["permissions"] == {"contents": "read", "id-token": "write"}
    assert load("deploy.yml")["permissions"] == {"contents": "read"}  # id-token only in the deploy jobs
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
    assert "make deploy ENV=prod" in runs["deploy.yml"] and "make deploy ENV=dev" in runs["deploy.yml"]
    deploy = load("deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}}  # YAML 1.1 reads the key `on` as True
    assert load("plan.yml")[True] == {"pull_request": {"branches": ["main"]}}


def test_deploy_runs_after_the_same_commits_tests_one_deploy_per_environment_dev_then_prod() -> None:
    jobs = load("deploy.yml")["jobs"]
    assert jobs["tests"] == {"uses": "./.github/workflows/tests.yml"}  # this commit's tests, in this run
    assert "workflow_call" in load("tests.yml")[True]
    assert jobs["dev"]["needs"] == "tests" and jobs["prod"]["needs"] == ["tests", "dev"]
    assert "needs.tests.result == 'success'" in jobs["prod"]["if"]
    for env in ("dev", "prod"):
        assert jobs[env]["environment"] == env
        assert jobs[env]["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
        assert jobs[env]["permissions"] == {"contents": "read", "id-token": "write"}


def test_the_region_comes_from_the_config_not_the_workflows() -> None:
    from config.environments import ENVIRONMENTS
    from operations import operate

    for name in ("plan.yml", "deploy.yml"):
        text = (WORKFLOWS / name).read_text()
        assert "us-east-1" not in text and "aws-region: ${{ steps.config.outputs.region }}" in text, name
        assert "python -m operations.operate region --env" in text, name
    for env in ENVIRONMENTS.values():
        assert operate.main(["region", "--env", env.name], environ={}) == 0


def test_the_workflows_present_the_subjects_the_ci_roles_trust() -> None:
    """Each deploy job names its GitHub environment, so its sub is ...:environment:<env>, which that
    environment's deploy role trusts; the plan runs on pull_request, whose sub ends :pull_request."""
    from config.environments import DEV, PROD

    ci = CiIdentities(repository="octo-org/audio-inference")
    deploy = load("deploy.yml")
    assert deploy[True]["push"]["branches"] == [ci.deploy_branch]
    for env in (DEV, PROD):
        assert deploy["jobs"][env.name]["environment"] == env.name
        assert ci_policies.deploy_subject(ci, env) == f"repo:octo-org/audio-inference:environment:{env.name}"
    plan = load("plan.yml")
    assert list(plan[True]) == ["pull_request"] and all("environment" not in job for job in plan["jobs"].values())
    assert ci_policies.plan_subject(ci) == "repo:octo-org/audio-inference:pull_request"
    roles = {
        name: " ".join(str(s.get("with", {}).get("role-to-assume")) for s in steps(load(name)))
        for name in ("plan.yml", "deploy.yml")
    }
    assert "vars.AWS_PLAN_ROLE_ARN" in roles["plan.yml"] and "vars.AWS_DEPLOY_ROLE_ARN" in roles["deploy.yml"]
    # The deploy role trusts job_workflow_ref = <repo>/.github/workflows/deploy.yml@refs/heads/<branch>: the
    # jobs that assume it are deploy.yml's own; a reusable workflow it calls (its tests) would present its
    # own job_workflow_ref, and assumes no role.
    assert (
        ci_policies.DEPLOY_WORKFLOW == ".github/workflows/deploy.yml" and (REPO / ci_policies.DEPLOY_WORKFLOW).is_file()
    )
    called = [job["uses"] for job in deploy["jobs"].values() if "uses" in job]
    assert called == ["./.github/workflows/tests.yml"]
    assert not any(
        str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials") for s in steps(load("tests.yml"))
    )
    assert ci_policies.deploy_claims(ci)["job_workflow_ref"] == (
        f"octo-org/audio-inference/.github/workflows/deploy.yml@refs/heads/{ci.deploy_branch}"
    )


def test_dependencies_install_before_any_credentials_exist() -> None:
    """No package's install script runs with a role assumed: `make install` (hash-locked pip, npm ci, the
    models) comes before the credentials step, and nothing after it installs."""
    for name in ("plan.yml", "deploy.yml"):
        for job in load(name)["jobs"].values():
            if "steps" not in job:
                continue
            names = [s.get("run", "") or s.get("uses", "") for s in job["steps"]]
            credentials = next(i for i, n in enumerate(names) if n.startswith("aws-actions/configure-aws-credentials"))
            assert "make install" in names[:credentials], name
            assert not any(re.search(r"\b(pip|npm|npx) ", n) for n in names[credentials:]), name

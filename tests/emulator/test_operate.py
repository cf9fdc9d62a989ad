"""The operator's commands, run as written (`make bootstrap/deploy/diff/rollback/destroy`) against moto.

One dev deployment carries the whole lifecycle: deploy (registry, release, inference stack by digest),
a second release, a refused rollback, a rollback to the first digest, destroy with the registry. A fake
`docker` on PATH records its calls and pushes manifests into the emulated ECR, so the digests are ECR's
own. Then bootstrap and `make diff ENV=prod` on a fresh account. Each module-level step is one test,
run in file order; the last prints the transcript with the time of each command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from config.environments import DEV, PROD
from config.schema import S3StateBackend
from operations import ci_identities, ci_policies, terraform_mirror
from tests.support import fake_docker
from tests.support.components import provider_mirror, terraform_binary
from tests.support.emulator import MotoServer
from tests.support.stacks import Stack, managed_resource_count

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
REPO = Path(__file__).resolve().parents[2]
DEV_ACCOUNT = "333333333333"  # apart from test_deploy.py's accounts: both tiers share one moto server
PROD_ACCOUNT = "444444444444"
# docs/operations.md's "Deploy without an AWS account" commands, which these tests run as written (in this order).
DEPLOY = "make deploy ENV=dev"
ROLLBACK = "make rollback ENV=dev DIGEST=sha256:<the first>"
DESTROY = "make destroy ENV=dev WITH_REGISTRY=1"
BOOTSTRAP = "make bootstrap ENV=prod"
DIFF = "TF_CLI_ARGS_init=-backend-config=use_path_style=true make diff ENV=prod"


@dataclass
class Operator:
    """Runs make targets in the repository as an operator would, in one emulated account."""

    emulator: MotoServer
    workdir: Path
    environ: dict[str, str]
    docker_log: Path
    transcript: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)

    def run(self, line: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """A command line as docs/operations.md writes it: NAME=value assignments, then make and its arguments."""
        words = shlex.split(line)
        environ = dict(self.environ)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            environ[name] = value
        assert words[0] == "make", line
        started = time.monotonic()
        result = subprocess.run(
            ["make", "--no-print-directory", *words[1:]], cwd=REPO, env=environ, capture_output=True, text=True
        )
        seconds = time.monotonic() - started
        self.transcript.append(f"{line}: exit {result.returncode} in {seconds:.0f} s")
        steps = [
            f"    {x}" for x in result.stdout.splitlines() if x.startswith(("<== ", "pushed ", "deployed ", "kept "))
        ]
        self.transcript.extend(steps)
        assert result.returncode == expect, f"{line}:\n{result.stdout[-5000:]}\n{result.stderr[-3000:]}"
        return result

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.environ["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environ["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.environ["AWS_SESSION_TOKEN"],
        )

    def docker_calls(self) -> list[Any]:
        return [json.loads(line) for line in self.docker_log.read_text().splitlines()]

    def running_image(self) -> str:
        return str(
            self.client("lambda").get_function(FunctionName=f"{DEV.resource_prefix}-predict")["Code"]["ImageUri"]
        )


def operator_environment(emulator: MotoServer, account: str, workdir: Path, bin_dir: Path, log: Path) -> dict[str, str]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INFERENCE_", "TF_CLI_"))},
        **emulator.environment(account),
        "PATH": f"{bin_dir}:{Path(terraform_binary()).parent}:{os.environ['PATH']}",
        fake_docker.LOG_ENV: str(log),
        "CDKTF_OUT": str(workdir / "cdktf.out"),  # local state then lands in <workdir>/.state/
    }
    environ.pop("AWS_DEFAULT_REGION", None)  # the commands take the environment's region themselves
    mirror = provider_mirror()
    if mirror is not None:
        environ["TF_PROVIDER_MIRROR"] = str(mirror)
        environ["TF_CLI_CONFIG_FILE"] = str(workdir / "terraformrc")
        from operations import terraform_mirror

        terraform_mirror.write_cli_config(workdir / "terraformrc", mirror)
    return environ


@pytest.fixture(scope="module")
def operator(emulator: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    workdir = tmp_path_factory.mktemp("operate")
    log = workdir / "docker.log"
    fake_docker.install(workdir / "bin", log)
    environ = operator_environment(emulator, DEV_ACCOUNT, workdir, workdir / "bin", log)
    yield Operator(emulator=emulator, workdir=workdir, environ=environ, docker_log=log)


def readme_emulator_commands() -> list[str]:
    section = (REPO / "docs" / "operations.md").read_text().split("## Deploy without an AWS account", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [
        line for line in lines if re.match(r"^([A-Za-z_]+=\S+ )*make (deploy|rollback|destroy|bootstrap|diff)", line)
    ]


def test_these_are_the_readmes_commands() -> None:
    assert readme_emulator_commands() == [DEPLOY, DEPLOY, ROLLBACK, DESTROY, BOOTSTRAP, DIFF]


def test_deploy_dev_releases_and_deploys_by_the_pushed_digest(operator: Operator) -> None:
    result = operator.run(DEPLOY)
    calls = operator.docker_calls()
    assert calls[0] == ["info", "--format", "{{.ServerVersion}}"]
    assert calls[1][:4] == ["login", "--username", "AWS", "--password-stdin"] and calls[2] == {
        "password_on_stdin": True
    }
    assert calls[3][:2] == ["buildx", "build"] and "--push" in calls[3]
    ecr = operator.client("ecr")
    (image,) = ecr.describe_images(repositoryName=DEV.repository_name)["imageDetails"]
    digest = image["imageDigest"]
    assert "latest" in image["imageTags"]
    repository_uri = ecr.describe_repositories(repositoryNames=[DEV.repository_name])["repositories"][0][
        "repositoryUri"
    ]
    assert operator.running_image() == f"{repository_uri}@{digest}"
    assert f"deployed inference-dev at {digest}" in result.stdout
    # State lives beside the synth output, not in it: `make clean` (rm -rf cdktf.out) cannot reach it.
    for stack in ("inference-dev-registry", "inference-dev"):
        state = json.loads((operator.workdir / ".state" / f"{stack}.tfstate").read_text())
        assert state["resources"], stack
    in_output = [p for p in (operator.workdir / "cdktf.out").rglob("*.tfstate") if ".terraform" not in p.parts]
    assert in_output == []  # (.terraform/terraform.tfstate there is terraform's backend cache, not state)
    operator.digests.append(digest)


def test_a_second_release_deploys_its_own_digest(operator: Operator) -> None:
    operator.run(DEPLOY)
    images = operator.client("ecr").describe_images(repositoryName=DEV.repository_name)["imageDetails"]
    (second,) = [i["imageDigest"] for i in images if i["imageDigest"] not in operator.digests]
    assert operator.running_image().endswith(f"@{second}")
    operator.digests.append(second)


def test_rollback_refuses_a_digest_the_repository_does_not_hold(operator: Operator) -> None:
    missing = "sha256:" + "0" * 64
    result = operator.run(ROLLBACK.replace("sha256:<the first>", missing), expect=2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: DIGEST={missing} is not in {DEV.repository_name} (it holds 2 image(s): "
        f"{', '.join(sorted(operator.digests))})"
    ]
    assert operator.running_image().endswith(f"@{operator.digests[1]}")


def test_rollback_deploys_the_first_digest(operator: Operator) -> None:
    operator.run(ROLLBACK.replace("sha256:<the first>", operator.digests[0]))
    assert operator.running_image().endswith(f"@{operator.digests[0]}")


def test_prod_is_destroyed_only_when_asked_explicitly(operator: Operator) -> None:
    result = operator.run("make destroy ENV=prod", expect=2)
    assert "error: destroying prod needs DESTROY_PROD=1" in result.stderr


def test_destroy_with_the_registry_leaves_nothing(operator: Operator) -> None:
    operator.run(DESTROY)
    assert operator.client("s3").list_buckets()["Buckets"] == []
    assert operator.client("ecr").describe_repositories()["repositories"] == []
    assert operator.client("lambda").list_functions()["Functions"] == []
    apigw = operator.client("apigateway")
    assert apigw.get_rest_apis()["items"] == []
    # The account-wide logging setting no longer names the role the destroy deleted.
    assert not apigw.get_account().get("cloudwatchRoleArn")
    roles = operator.client("iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith(DEV.resource_prefix)] == []
    for stack in ("inference-dev-registry", "inference-dev"):
        state = json.loads((operator.workdir / ".state" / f"{stack}.tfstate").read_text())
        assert state["resources"] == [], stack


def test_bootstrap_then_prod_diff_on_a_fresh_account(
    operator: Operator,
    emulator: MotoServer,
    stacks: dict[str, Stack],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workdir = tmp_path_factory.mktemp("operate-prod")
    log = workdir / "docker.log"
    fake_docker.install(workdir / "bin", log)
    prod = Operator(
        emulator=emulator,
        workdir=workdir,
        environ=operator_environment(emulator, PROD_ACCOUNT, workdir, workdir / "bin", log),
        docker_log=log,
        transcript=operator.transcript,
    )
    first = prod.run(BOOTSTRAP)
    assert "created" in first.stdout
    again = prod.run(BOOTSTRAP)
    assert "already there" in again.stdout
    assert isinstance(PROD.state, S3StateBackend)
    s3 = prod.client("s3")
    bucket = PROD.state.bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and rule["BucketKeyEnabled"]
    key = prod.client("kms").describe_key(KeyId=ci_policies.state_key_alias(PROD))["KeyMetadata"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key["Arn"], "the state key, not aws/s3"
    assert prod.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyStateBucketDeletion"]["Action"] == "s3:DeleteBucket"
    (expiry,) = [
        r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] if "NoncurrentVersionExpiration" in r
    ]
    assert expiry["NoncurrentVersionExpiration"] == {"NoncurrentDays": PROD.state.noncurrent_version_expiry_days}
    iam = prod.client("iam")
    boundary = ci_policies.permissions_boundary_arn(PROD, PROD_ACCOUNT)
    version = iam.get_policy(PolicyArn=boundary)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=boundary, VersionId=version)["PolicyVersion"]["Document"]
    assert ci_identities._document(document) == ci_policies.permissions_boundary(PROD, PROD_ACCOUNT)
    diff = prod.run(DIFF)  # moto answers S3 on one host: the docs' path-style setting
    count = managed_resource_count(stacks["inference-prod"])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", diff.stdout)  # cdktf colours terraform's summary
    assert f"Plan: {count} to add, 0 to change, 0 to destroy." in plain
    lock = workdir / "cdktf.out" / "stacks" / PROD.stack_name / terraform_mirror.LOCK_FILE_NAME
    assert lock.read_bytes() == terraform_mirror.LOCK_FILE.read_bytes(), "init read the committed lock and kept it"
    assert prod.docker_calls() == [], "a diff builds nothing"
    with capsys.disabled():  # the record: each command with its time
        print("\noperator commands on the emulator:\n  " + "\n  ".join(operator.transcript))

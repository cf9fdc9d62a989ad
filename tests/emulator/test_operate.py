"""What CI runs for two merges in a row, then a rollback and an engineer's by-hand cdktf, against moto.

Scratch checkouts of this tree (their own git history: merge 1, then merge 2 changing the image's code;
one clone per environment, the same commits) are where every command runs, as deploy.yml runs them:
`make deploy ENV=dev` and `AUTO_APPROVE=1 make deploy ENV=prod` (the prod environment's approval given),
for each merge; both merges exit 0 with no config edit. The two environments' deploys of a merge run
side by side here (separate accounts, clones and states; deploy.yml runs prod after dev), so that the
provider's waiters overlap and the tier fits make test's time. Then a refused and a real rollback of
dev, a by-hand `npx cdktf deploy inference-dev` and `npx cdktf diff inference-prod` (in the shell the
docs' one line sets up) that keep the rolled-back and the released digests, destroy. Dev and prod live
in their own emulated accounts; prod's state in its bootstrapped S3 bucket. A stand-in `docker` on
PATH records its calls and pushes manifests into the emulated ECR, so the digests are ECR's own. Each
step is one test, run in file order; the last prints the transcript with the time of each command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from config.environments import DEV, PROD
from config.schema import S3StateBackend, release_pointer_missing
from operations import ci_identities, ci_policies, terraform_mirror
from tests.support import fake_docker
from tests.support.components import provider_mirror, terraform_binary
from tests.support.emulator import MotoServer

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
REPO = Path(__file__).resolve().parents[2]
DEV_ACCOUNT = "333333333333"  # apart from test_deploy.py's accounts: both tiers share one moto server
PROD_ACCOUNT = "444444444444"
# docs/operations.md's "Deploy without an AWS account" commands, which these tests run as written (in this order).
PATH_STYLE = "TF_CLI_ARGS_init=-backend-config=use_path_style=true"
BOOTSTRAP = "make bootstrap ENV=prod"
DEPLOY = "make deploy ENV=dev"
DEPLOY_PROD = f"{PATH_STYLE} AUTO_APPROVE=1 make deploy ENV=prod"
ROLLBACK = "make rollback ENV=dev DIGEST=sha256:<the first>"
BY_HAND_DEPLOY = "npx cdktf deploy inference-dev --auto-approve --ignore-missing-stack-dependencies"
BY_HAND_DIFF = f"{PATH_STYLE} npx cdktf diff inference-prod"
DESTROY = "make destroy ENV=dev WITH_REGISTRY=1"
SHELL_LINE = 'eval "$(.venv/bin/python -m operations.terraform_mirror shell)"'
"""The docs' one line that sets up a shell for by-hand `npx cdktf` (docs/operations.md)."""
LINKED = (".venv", "node_modules", "models")
"""What `make setup` made, shared with the scratch checkout rather than made again."""


def git(checkout: Path, *args: str) -> str:
    author = {"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com", "GIT_COMMITTER_NAME": "ci"}
    # Fixed dates: the two clones' commits of the same tree are the same commits (the same git-<commit> tags).
    author |= {"GIT_AUTHOR_DATE": "2026-12-07T00:00:00Z", "GIT_COMMITTER_DATE": "2026-12-07T00:00:00Z"}
    environ = {**os.environ, **author, "GIT_COMMITTER_EMAIL": "ci@example.com"}
    result = subprocess.run(["git", *args], cwd=checkout, env=environ, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def make_checkout(target: Path) -> Path:
    """This tree's files (tracked and not ignored, with their times: make's install stamp stays valid) in a
    git repository of their own, at merge 1; .venv, node_modules and models linked."""
    # The links share .venv: make must never re-install it from the scratch checkout (that would point
    # its editable install there), so the install stamp must be current here and is never remade there.
    stale = subprocess.run(["make", "-q", ".venv/.installed"], cwd=REPO, capture_output=True).returncode
    assert stale == 0, "the install is older than requirements.lock or package-lock.json: run `make install`"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for name in LINKED:
        (target / name).symlink_to(REPO / name)
    git(target, "init", "-q", "-b", "main")
    # the links are files to git, which .gitignore's `/models/`-style (folder) patterns do not match
    (target / ".git" / "info" / "exclude").write_text("".join(f"/{name}\n" for name in LINKED))
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "merge 1")
    return target


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dev's operator's clone."""
    return make_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def prod_checkout(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prod's operator's clone: a copy of dev's, history and all (each merge is then committed in both), so
    the two environments' commands can run side by side, each with its own synth output."""
    target = tmp_path_factory.mktemp("prod-checkout") / "checkout"
    shutil.copytree(checkout, target, symlinks=True)  # copy2: the files' times, so make's stamps stay valid
    return target


def side_by_side(*steps: Callable[[], object]) -> None:
    """Dev's and prod's commands of one merge at once: separate accounts, clones and states, so nothing
    they do meets; most of a deploy is waiting on the provider's waiters, which then overlap. (deploy.yml
    runs prod after dev; each command's outcome does not depend on that order.)"""
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        for future in [pool.submit(step) for step in steps]:
            future.result()


@dataclass
class Operator:
    """Runs the docs' command lines in the scratch checkout as an operator would, in one emulated account."""

    emulator: MotoServer
    checkout: Path
    environ: dict[str, str]
    docker_log: Path
    account: str
    transcript: list[str]
    digests: list[str] = field(default_factory=list)

    def run(self, line: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """NAME=value assignments, then `make ...` or `npx cdktf ...` (the latter in the docs' by-hand shell)."""
        words = shlex.split(line)
        environ = dict(self.environ)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            environ[name] = value
        if words[0] == "make":
            argv = ["make", "--no-print-directory", "-o", ".venv/.installed", *words[1:]]  # see `checkout`
        else:
            assert words[:2] == ["npx", "cdktf"], line
            argv = ["bash", "-c", f"{SHELL_LINE} && {shlex.join(words)}"]
        started = time.monotonic()
        result = subprocess.run(argv, cwd=self.checkout, env=environ, capture_output=True, text=True)
        seconds = time.monotonic() - started
        self.transcript.append(f"[{self.account}] {line}: exit {result.returncode} in {seconds:.0f} s")
        steps = [
            f"    {x}"
            for x in result.stdout.splitlines()
            if x.startswith(("<== ", "pushed ", "reused ", "tagged ", "deployed ", "recorded ", "kept "))
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

    def running_image(self, env: Any = DEV) -> str:
        return str(
            self.client("lambda").get_function(FunctionName=f"{env.resource_prefix}-predict")["Code"]["ImageUri"]
        )

    def pointer(self, env: Any) -> str:
        return str(self.client("ssm").get_parameter(Name=env.release_parameter)["Parameter"]["Value"])

    def held(self, env: Any) -> list[dict[str, Any]]:
        return list(self.client("ecr").describe_images(repositoryName=env.repository_name)["imageDetails"])


def operator_environment(emulator: MotoServer, account: str, bin_dir: Path, log: Path) -> dict[str, str]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INFERENCE_", "TF_CLI_", "CDKTF_"))},
        **emulator.environment(account),
        "PATH": f"{bin_dir}:{Path(terraform_binary()).parent}:{os.environ['PATH']}",
        fake_docker.LOG_ENV: str(log),
    }
    environ.pop("AWS_DEFAULT_REGION", None)  # the commands take the environment's region themselves
    mirror = provider_mirror()
    if mirror is not None:  # the commands write build/terraformrc for it themselves
        environ["TF_PROVIDER_MIRROR"] = str(mirror)
    return environ


@pytest.fixture(scope="module")
def transcript() -> list[str]:
    return []


def make_operator(emulator: MotoServer, checkout: Path, account: str, scratch: Path, transcript: list[str]) -> Operator:
    log = scratch / "docker.log"
    fake_docker.install(scratch / "bin", log)
    environ = operator_environment(emulator, account, scratch / "bin", log)
    return Operator(emulator, checkout, environ, log, account, transcript)


@pytest.fixture(scope="module")
def operator(
    emulator: MotoServer, checkout: Path, transcript: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Operator:
    """Dev's operator (dev's account)."""
    return make_operator(emulator, checkout, DEV_ACCOUNT, tmp_path_factory.mktemp("dev"), transcript)


@pytest.fixture(scope="module")
def prod(
    emulator: MotoServer, prod_checkout: Path, transcript: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Operator:
    """Prod's operator (prod's account), in its own clone."""
    return make_operator(emulator, prod_checkout, PROD_ACCOUNT, tmp_path_factory.mktemp("prod"), transcript)


def readme_emulator_commands() -> list[str]:
    section = (REPO / "docs" / "operations.md").read_text().split("## Deploy without an AWS account", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [
        line
        for line in lines
        if re.match(r"^([A-Za-z_]+=\S+ )*(make (deploy|rollback|destroy|bootstrap|diff)|npx cdktf)", line)
    ]


def test_these_are_the_readmes_commands() -> None:
    assert readme_emulator_commands() == [
        BOOTSTRAP,
        DEPLOY,
        DEPLOY_PROD,
        DEPLOY,
        DEPLOY_PROD,
        ROLLBACK,
        BY_HAND_DEPLOY,
        BY_HAND_DIFF,
        DESTROY,
    ]
    docs = (REPO / "docs" / "operations.md").read_text()
    assert SHELL_LINE in docs
    # the stand-in docker lives where `make clean` does not reach (it once lived in build/)
    assert "python -m tests.support.fake_docker .emulator/fake-docker" in docs
    clean = next(line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("\trm -rf"))
    assert ".emulator" not in clean and "build" in clean


def test_bootstrap_twice_on_a_fresh_prod_account(prod: Operator) -> None:
    first = prod.run(BOOTSTRAP)
    assert "created" in first.stdout
    again = prod.run(BOOTSTRAP)
    assert "already there" in again.stdout
    assert isinstance(PROD.state, S3StateBackend)
    s3 = prod.client("s3")
    bucket = PROD.state_bucket(PROD_ACCOUNT)  # named per account and region: prod names none
    assert bucket == f"audio-inference-tfstate-{PROD_ACCOUNT}-{PROD.region}" and f"s3://{bucket} in" in first.stdout
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


def test_before_any_release_a_diff_refuses_in_one_line_naming_what_to_run(prod: Operator) -> None:
    result = prod.run(f"{PATH_STYLE} make diff ENV=prod", expect=2)
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {release_pointer_missing(PROD)}"
    ]
    assert prod.docker_calls() == [], "a diff builds nothing"


def test_merge_1_deploys_dev_and_prod_by_the_pushed_digests_and_records_them(
    operator: Operator, prod: Operator, checkout: Path
) -> None:
    """`make deploy ENV=dev` and, with the approval given, `AUTO_APPROVE=1 make deploy ENV=prod`."""
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    side_by_side(lambda: results.setdefault("dev", operator.run(DEPLOY)), lambda: prod.run(DEPLOY_PROD))
    calls = operator.docker_calls()
    assert calls[0] == ["info", "--format", "{{.ServerVersion}}"]
    assert calls[1][:4] == ["login", "--username", "AWS", "--password-stdin"] and calls[2] == {
        "password_on_stdin": True
    }
    assert calls[3][:2] == ["buildx", "build"] and "--push" in calls[3]
    (image,) = operator.held(DEV)
    digest = image["imageDigest"]
    commit = git(checkout, "rev-parse", "--short=12", "HEAD")
    assert f"git-{commit}" in image["imageTags"] and "latest" not in image["imageTags"]
    repository_uri = operator.client("ecr").describe_repositories(repositoryNames=[DEV.repository_name])[
        "repositories"
    ][0]["repositoryUri"]
    assert operator.running_image() == f"{repository_uri}@{digest}"
    assert f"deployed inference-dev at {digest}" in results["dev"].stdout
    assert operator.pointer(DEV) == digest
    # State lives beside the synth output, not in it: `make clean` (rm -rf cdktf.out) cannot reach it.
    for stack in ("inference-dev-registry", "inference-dev"):
        state = json.loads((checkout / ".state" / f"{stack}.tfstate").read_text())
        assert state["resources"], stack
    operator.digests.append(digest)
    (prod_image,) = prod.held(PROD)
    assert prod.running_image(PROD).endswith(f"@{prod_image['imageDigest']}")
    assert prod.pointer(PROD) == prod_image["imageDigest"]
    prod.digests.append(prod_image["imageDigest"])
    # Prod's state is in the bucket bootstrap named for prod's account: app.py named the same one for cdktf.
    assert isinstance(PROD.state, S3StateBackend)
    s3 = prod.client("s3")
    for stack in (PROD.registry_stack_name, PROD.stack_name):
        key = f"{PROD.state.key_prefix}{stack}.tfstate"
        state = json.loads(s3.get_object(Bucket=PROD.state_bucket(PROD_ACCOUNT), Key=key)["Body"].read())
        assert state["resources"], stack


def test_merge_2_deploys_dev_and_prod_with_no_config_edit(
    operator: Operator, prod: Operator, checkout: Path, prod_checkout: Path
) -> None:
    """The second merge changes the image's code: each environment builds and deploys a second digest
    (prod's tags are immutable and no tag is reused), and both commands exit 0."""
    for clone in (checkout, prod_checkout):
        handler = clone / "src" / "service" / "__init__.py"
        handler.write_text(handler.read_text() + "# merge 2\n")
        git(clone, "commit", "-q", "-am", "merge 2")
    commit = git(checkout, "rev-parse", "--short=12", "HEAD")
    assert git(prod_checkout, "rev-parse", "--short=12", "HEAD") == commit, "the same history in both clones"
    side_by_side(lambda: operator.run(DEPLOY), lambda: prod.run(DEPLOY_PROD))
    (second,) = [i for i in operator.held(DEV) if i["imageDigest"] not in operator.digests]
    assert f"git-{commit}" in second["imageTags"]
    assert operator.running_image().endswith(f"@{second['imageDigest']}")
    operator.digests.append(second["imageDigest"])
    (second_prod,) = [i for i in prod.held(PROD) if i["imageDigest"] not in prod.digests]
    assert f"git-{commit}" in second_prod["imageTags"]
    assert prod.running_image(PROD).endswith(f"@{second_prod['imageDigest']}")
    assert prod.pointer(PROD) == second_prod["imageDigest"]
    prod.digests.append(second_prod["imageDigest"])


def test_rollback_refuses_a_digest_the_repository_does_not_hold(operator: Operator) -> None:
    missing = "sha256:" + "0" * 64
    result = operator.run(ROLLBACK.replace("sha256:<the first>", missing), expect=2)
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(
        f"error: DIGEST={missing} is not in {DEV.repository_name} (it holds 2 image(s), newest first: "
    )
    listed = error.split("newest first: ", 1)[1].rstrip(")").split("; ")
    first, second = operator.digests
    assert [entry.split(" ")[0] for entry in listed] == [second, first]
    assert listed[0].endswith(" (deployed)") and "(deployed)" not in listed[1]
    assert all(" pushed 20" in entry for entry in listed)
    assert operator.running_image().endswith(f"@{second}")


def test_rollback_deploys_the_first_digest_and_moves_the_pointer(operator: Operator) -> None:
    first = operator.digests[0]
    operator.run(ROLLBACK.replace("sha256:<the first>", first))
    assert operator.running_image().endswith(f"@{first}")
    assert operator.pointer(DEV) == first


def test_a_by_hand_cdktf_deploy_keeps_the_rolled_back_digest(operator: Operator) -> None:
    result = operator.run(BY_HAND_DEPLOY)
    first = operator.digests[0]
    assert operator.running_image().endswith(f"@{first}"), "the release pointer, not the newest image"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert not [line for line in plain.splitlines() if "image_uri" in line and "->" in line], plain[-3000:]
    assert "[ERROR]" not in plain and "end-of-life" not in plain and "checkpoint-api" not in plain
    assert "[WARN]" not in plain, "no warning about NODE_OPTIONS either"


def test_a_by_hand_cdktf_diff_of_prod_plans_its_last_release(prod: Operator, prod_checkout: Path) -> None:
    result = prod.run(BY_HAND_DIFF)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert not [line for line in plain.splitlines() if "image_uri" in line and "->" in line], plain[-3000:]
    assert "[ERROR]" not in plain and "end-of-life" not in plain
    assert prod.running_image(PROD).endswith(f"@{prod.digests[1]}")
    synthesized = json.loads((prod_checkout / "cdktf.out" / "stacks" / PROD.stack_name / "cdk.tf.json").read_text())
    assert synthesized["terraform"]["backend"]["s3"]["bucket"] == PROD.state_bucket(PROD_ACCOUNT), "by hand too"
    lock = prod_checkout / "cdktf.out" / "stacks" / PROD.stack_name / terraform_mirror.LOCK_FILE_NAME
    assert lock.read_bytes() == terraform_mirror.LOCK_FILE.read_bytes(), "init read the committed lock and kept it"


def test_prod_is_destroyed_only_when_asked_explicitly(prod: Operator) -> None:
    result = prod.run("make destroy ENV=prod", expect=2)
    assert "error: destroying prod needs DESTROY_PROD=1" in result.stderr


def test_destroy_with_the_registry_leaves_nothing(operator: Operator, checkout: Path) -> None:
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
        state = json.loads((checkout / ".state" / f"{stack}.tfstate").read_text())
        assert state["resources"] == [], stack


def test_the_transcript(transcript: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():  # the record: each command with its time
        print("\noperator commands on the emulator:\n  " + "\n  ".join(transcript))

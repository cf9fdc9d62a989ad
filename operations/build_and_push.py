#!/usr/bin/env python
"""Build the Lambda image for an environment, push it to that environment's ECR repository, and print
the command that deploys it by digest.

    .venv/bin/python -m operations.build_and_push --env dev [--dry-run] [--force]

(`make deploy ENV=dev` runs it between the registry and the inference stack.)
Steps: find the repository (`<project>/<env>`, created by `inference-<env>-registry`) through boto3
in the environment's region (config/environments.py, not the shell's default region);
check the pinned model is in models/ (`make model`); refuse a dirty tree for prod (unless --force).
Tags never collide between commits: a committed tree's image is tagged `git-<commit>` and
`content-<hash of what goes into the image>`. Releasing a commit whose `git-` tag is there re-uses that
image (nothing built, no docker needed); a commit whose image inputs match an image already pushed (a docs
change) gets its `git-` tag added to that image through ECR (nothing built). A tree with uncommitted
changes gets `git-<commit>-dirty-<UTC time>`. Prod's tags stay immutable: a tag always names one image.
Otherwise: check docker reaches its daemon (else docker's own reason, one line); log docker in to ECR
with a boto3 authorization token (the password goes on stdin, never on a command line or in a log);
`docker buildx build --platform linux/<arch> --provenance=false` (Lambda rejects provenance
manifests), pushed; print the pushed digest and `make deploy ENV=<env> DIGEST=sha256:...`.
`--dry-run` prints every command instead of running it (ECR is still read; before the repository exists
it says the deploy would create it). Bad input ends with a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
METADATA = REPO / "build" / "image-metadata.json"
IMAGE_INPUTS = (
    ".dockerignore",
    "docker/Dockerfile",
    "docker/requirements-inference.lock",
    "src/contract",
    "src/inference",
    "src/service",
)
"""What the build context gives the image (.dockerignore), besides the models (their checksums are build
arguments): the content tag hashes these files' committed blobs."""


class ReleaseError(Exception):
    """Bad input or a missing prerequisite: one line for the person running the tool."""


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str
    registry: str
    registry_id: str
    immutable_tags: bool


@dataclass(frozen=True)
class Plan:
    """Everything the release will do, decided before anything runs."""

    environment: str
    repository: Repository
    platform: str
    tags: tuple[str, ...]
    build_args: dict[str, str]
    reuse: str | None = None
    """The digest of an image already pushed for this commit or this content: nothing is built."""
    add_tags: tuple[str, ...] = ()
    """Tags to add to `reuse` (through ECR's PutImage; the image itself is not touched)."""


def find_repository(ecr: Any, name: str, registry_stack: str = "inference-<env>-registry") -> Repository:
    try:
        (found,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    except ecr.exceptions.RepositoryNotFoundException:
        raise ReleaseError(
            f"ECR repository {name!r} does not exist in this account and region: "
            f"deploy its registry stack first (npx cdktf deploy {registry_stack})"
        ) from None
    uri = found["repositoryUri"]
    return Repository(
        name=name,
        uri=uri,
        registry=uri.split("/", 1)[0],
        registry_id=found["registryId"],
        immutable_tags=found.get("imageTagMutability", "MUTABLE").startswith("IMMUTABLE"),
    )


def planned_repository(ecr: Any, name: str, region: str) -> Repository:
    """The repository as the registry stack will create it (for --dry-run before the first deploy)."""
    registry_id = "<account>"
    with contextlib.suppress(BotoCoreError, ClientError):
        registry_id = ecr.describe_registry()["registryId"]
    registry = f"{registry_id}.dkr.ecr.{region}.amazonaws.com"
    return Repository(
        name=name, uri=f"{registry}/{name}", registry=registry, registry_id=registry_id, immutable_tags=False
    )


def image_with_tag(ecr: Any, repository: Repository, tag: str) -> str | None:
    """The digest of the image `tag` names in the repository, or None."""
    try:
        (image,) = ecr.describe_images(repositoryName=repository.name, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        return None
    return str(image["imageDigest"])


def content_tag(build_args: dict[str, str], platform: str) -> str:
    """`content-<hash>`: the committed blobs of IMAGE_INPUTS, the build arguments and the platform."""
    digest = hashlib.sha256(git("ls-files", "-s", "--", *IMAGE_INPUTS).encode())
    digest.update(json.dumps([build_args, platform], sort_keys=True).encode())
    return f"content-{digest.hexdigest()[:20]}"


def add_tags(ecr: Any, repository: Repository, digest: str, tags: tuple[str, ...]) -> None:
    """Tag an image ECR holds (its manifest put again under each tag: ECR's documented retag)."""
    (image,) = ecr.batch_get_image(repositoryName=repository.name, imageIds=[{"imageDigest": digest}])["images"]
    for tag in tags:
        ecr.put_image(
            repositoryName=repository.name,
            imageManifest=image["imageManifest"],
            imageManifestMediaType=image.get("imageManifestMediaType")
            or json.loads(image["imageManifest"])["mediaType"],
            imageTag=tag,
        )


def docker_password(ecr: Any, repository: Repository) -> str:
    """The registry password from an ECR authorization token (the token is base64 of `AWS:<password>`)."""
    data = ecr.get_authorization_token(registryIds=[repository.registry_id])["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    if user != "AWS" or not password:
        raise ReleaseError("ECR returned an authorization token without an AWS password")
    return password


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip() or 'not a git checkout'}")
    return result.stdout.strip()


def model_build_args() -> dict[str, str]:
    """Every registered model's checksum and path in the image (sha256sum's check format, ';'-separated),
    each checked now as the build will check it. The image carries them all; an environment's `models`
    setting says which it serves, so serving another needs no new image."""
    from inference.artifact import REPO_MODELS_DIR, sha256_of
    from inference.config import load_config
    from inference.models.registry import pinned_artifacts

    model = load_config(environ={}).model
    pinned = pinned_artifacts()
    if model.name not in pinned or pinned[model.name].version != model.version:
        raise ReleaseError(f"{model.name} {model.version} has no pinned artifact to bake into the image")
    checks = []
    for artifact in pinned.values():
        relative = f"{artifact.model}/{artifact.version}/{artifact.filename}"
        path = REPO_MODELS_DIR / relative
        if not path.is_file() or sha256_of(path) != artifact.sha256:
            raise ReleaseError(f"models/{relative} is missing or not the pinned file: run `make model` first")
        checks.append(f"{artifact.sha256}  /opt/models/{relative}")
    return {"MODEL_CHECKSUMS": ";".join(checks)}


def uncommitted(environment: str) -> ReleaseError:
    """The refusal of a release from a tree with uncommitted changes, naming the first few of them."""
    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line.strip()]
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return ReleaseError(
        f"the working tree has uncommitted changes ({shown}): {environment} images are tagged with the commit "
        "they are built from (commit them, or FORCE=1 make deploy / --force)"
    )


def refuse_uncommitted(environment: str, immutable_tags: bool, *, force: bool) -> None:
    """Before anything is deployed: an environment with immutable tags builds only committed trees."""
    if immutable_tags and not force and git("status", "--porcelain"):
        raise uncommitted(environment)


def plan_release(environment: str, ecr: Any, *, force: bool, dry_run: bool = False) -> Plan:
    from config.environments import get_environment
    from contract.validation import ConfigError

    try:
        env = get_environment(environment)
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None
    try:
        repository: Repository | None = find_repository(ecr, env.repository_name, env.registry_stack_name)
    except ReleaseError:
        if not dry_run:
            raise
        repository = None
    build_args = model_build_args()
    platform = PLATFORMS[env.function.architecture]
    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = bool(git("status", "--porcelain"))
    if repository is None:
        repository = planned_repository(ecr, env.repository_name, env.region)
        print(
            f"# {repository.name} does not exist yet: make deploy ENV={environment} would create it "
            f"(npx cdktf deploy {env.registry_stack_name}) before the build"
        )
        return Plan(environment, repository, platform, (f"git-{commit}",), build_args)
    if dirty:
        if repository.immutable_tags and not force:
            raise uncommitted(environment)
        # Never the commit's own tag: that names the committed tree's image.
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return Plan(environment, repository, platform, (f"git-{commit}-dirty-{stamp}",), build_args)
    tags = (f"git-{commit}", content_tag(build_args, platform))
    released = image_with_tag(ecr, repository, tags[0])
    if released is not None:
        return Plan(environment, repository, platform, tags, build_args, reuse=released)
    same_content = image_with_tag(ecr, repository, tags[1])
    if same_content is not None:
        return Plan(environment, repository, platform, tags, build_args, reuse=same_content, add_tags=tags[:1])
    return Plan(environment, repository, platform, tags, build_args)


def commands(plan: Plan) -> list[list[str]]:
    """The docker commands of a release, in order (login's password comes on stdin)."""
    build = [
        "docker",
        "buildx",
        "build",
        "--platform",
        plan.platform,
        "--provenance=false",
        "--file",
        "docker/Dockerfile",
    ]
    for name, value in plan.build_args.items():
        build += ["--build-arg", f"{name}={value}"]
    for tag in plan.tags:
        build += ["--tag", f"{plan.repository.uri}:{tag}"]
    build += ["--metadata-file", str(METADATA.relative_to(REPO)), "--push", "."]
    return [["docker", "login", "--username", "AWS", "--password-stdin", plan.repository.registry], build]


def deploy_command(environment: str, digest: str) -> str:
    return f"make deploy ENV={environment} DIGEST={digest}"


def check_docker_daemon() -> None:
    """Fail in one line, with docker's own reason, when the CLI is there but its daemon is not."""
    if shutil.which("docker") is None:
        raise ReleaseError("docker is not installed (or not on PATH): it builds and pushes the image")
    result = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = next((line.strip() for line in result.stderr.splitlines() if line.strip()), "no message")
        raise ReleaseError(f"docker cannot reach its daemon (is it running?): {reason}")


def run(plan: Plan, ecr: Any, *, dry_run: bool) -> str | None:
    """Run the release (or print it, with `dry_run`); the pushed digest."""
    login, build = commands(plan)
    if plan.reuse is not None:
        image = f"{plan.repository.uri}@{plan.reuse}"
        if plan.add_tags:
            why = f"{plan.tags[1]} is already pushed: same image inputs"
            if dry_run:
                print(f"# would tag {image} {', '.join(plan.add_tags)} ({why}); nothing to build")
                print(deploy_command(plan.environment, plan.reuse))
                return None
            add_tags(ecr, plan.repository, plan.reuse, plan.add_tags)
            print(f"tagged {image} {', '.join(plan.add_tags)} ({why}): nothing built")
        else:
            print(f"reused {image} ({plan.tags[0]} is already pushed): nothing built")
            if dry_run:
                print(deploy_command(plan.environment, plan.reuse))
                return None
        return plan.reuse
    if dry_run:
        print(f"# {plan.environment}: {plan.repository.uri}, {plan.platform}, tags {', '.join(plan.tags)}")
        print(f"{shlex.join(login)}  # password: ECR get-authorization-token, on stdin")
        print(shlex.join(build))
        print(deploy_command(plan.environment, "<the pushed digest>"))
        return None
    subprocess.run(login, input=docker_password(ecr, plan.repository), text=True, check=True, capture_output=True)
    METADATA.parent.mkdir(parents=True, exist_ok=True)
    METADATA.unlink(missing_ok=True)  # never read an earlier build's digest
    subprocess.run(build, cwd=REPO, check=True)
    digest = str(json.loads(METADATA.read_text())["containerimage.digest"])
    print(f"pushed {plan.repository.uri}@{digest} ({', '.join(plan.tags)})")
    return digest


def ecr_client(environment: str) -> Any:
    """An ECR client in the environment's region (the shell's default region may be another, or none)."""
    import boto3

    from config.environments import get_environment
    from contract.validation import ConfigError

    try:
        region = get_environment(environment).region
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None
    return boto3.client("ecr", region_name=region)


def release(environment: str, ecr: Any = None, *, force: bool = False) -> str:
    """Build and push the environment's image (or re-use the one pushed for this commit or content); its
    digest. Raises ReleaseError, boto and docker errors."""
    ecr = ecr_client(environment) if ecr is None else ecr
    plan = plan_release(environment, ecr, force=force)
    if plan.reuse is None:
        check_docker_daemon()
    digest = run(plan, ecr, dry_run=False)
    assert digest is not None
    return digest


EXPECTED_ERRORS = (ReleaseError, BotoCoreError, ClientError, subprocess.CalledProcessError)
"""What the operator commands (release, bootstrap, deploy...) end on with one line rather than a traceback."""


def report(exc: Exception) -> int:
    """Print one line for an expected error and give its exit code: 2 for bad input or AWS's refusal,
    1 for a command that failed."""
    if isinstance(exc, subprocess.CalledProcessError):
        print(f"error: {failed_command(exc)}", file=sys.stderr)
        return 1
    if isinstance(exc, (BotoCoreError, ClientError)):
        print(f"error: AWS: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"error: {exc}", file=sys.stderr)
    return 2


def failed_command(exc: subprocess.CalledProcessError) -> str:
    """One line: the command, its exit status and the last line it wrote to stderr, when captured."""
    output = exc.stderr if isinstance(exc.stderr, str) else ""
    reason = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "")
    return f"{shlex.join(exc.cmd[:3])} ... exited with {exc.returncode}" + (f": {reason}" if reason else "")


def main(argv: list[str] | None = None, ecr: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="operations/build_and_push.py", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--force", action="store_true", help="release prod from a tree with uncommitted changes")
    args = parser.parse_args(argv)
    try:
        ecr = ecr_client(args.env) if ecr is None else ecr
        plan = plan_release(args.env, ecr, force=args.force, dry_run=args.dry_run)
        if not args.dry_run and plan.reuse is None:
            check_docker_daemon()
        digest = run(plan, ecr, dry_run=args.dry_run)
        if digest is not None:
            print(f"deploy it:  {deploy_command(args.env, digest)}")
        return 0
    except EXPECTED_ERRORS as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())

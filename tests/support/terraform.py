"""Drive terraform on one synthesized stack in a scratch folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operations import terraform_mirror

REPO = Path(__file__).resolve().parents[2]
# Providers installed from the registry are downloaded once and shared by every scratch folder.
PLUGIN_CACHE = REPO / "build" / "terraform-plugin-cache"


class ProviderInstallError(AssertionError):
    """terraform init could not install the providers; the message says how to work offline."""


@dataclass
class PlanResult:
    exit_code: int  # -detailed-exitcode: 0 no changes, 2 changes
    changes: list[dict[str, Any]]  # resource_changes whose actions are not ["no-op"] / ["read"]


class TerraformStack:
    """A copy of one synthesized stack and the terraform commands run on it.

    Providers come from `mirror` (offline) when given, else from terraform's normal
    installation (registry.terraform.io) through a shared plugin cache.
    """

    def __init__(
        self,
        terraform: str,
        source: Path,
        workdir: Path,
        mirror: Path | None,
        env: dict[str, str],
        local_backend: bool = False,
    ) -> None:
        shutil.copytree(source, workdir)
        # The committed provider lock, read only: a provider whose checksum differs fails init.
        terraform_mirror.install_lock_file(workdir)
        self.terraform = terraform
        self.workdir = workdir
        self.mirror = mirror
        self.env = {
            **os.environ,
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": os.devnull,
            **env,
        }
        if mirror is None:
            PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
            self.env.setdefault("TF_PLUGIN_CACHE_DIR", str(PLUGIN_CACHE))
        if local_backend:
            # Swap a remote backend for a local file at test time; the stack itself is unchanged.
            (workdir / "backend_override.tf.json").write_text(
                json.dumps({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}})
            )

    def run(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.terraform, *args, "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed in {self.workdir}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def init(self, backend: bool = True) -> None:
        args = ["init", "-input=false", "-lockfile=readonly"] + ([] if backend else ["-backend=false"])
        if self.mirror is not None:
            args.append(f"-plugin-dir={self.mirror}")
        result = self.run(*args, check=False)
        if result.returncode == 0:
            return
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        if self.mirror is None:
            raise ProviderInstallError(
                "terraform init could not install the AWS provider from registry.terraform.io. Offline, point "
                f"${terraform_mirror.MIRROR_ENV} at a provider mirror (a directory holding "
                "registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_*), e.g.\n"
                f"  export {terraform_mirror.MIRROR_ENV}=/opt/tf-plugins\n"
                f"terraform said:\n{output}"
            )
        raise AssertionError(f"terraform init (mirror {self.mirror}) failed in {self.workdir}:\n{output}")

    def validate(self) -> dict[str, Any]:
        """`terraform validate -json` as a dict (raises when the configuration is invalid)."""
        result: dict[str, Any] = json.loads(self.run("validate", "-json").stdout)
        return result

    def apply(self) -> int:
        """Apply; returns the number of resources added."""
        out = self.run("apply", "-auto-approve", "-input=false").stdout
        line = next(line for line in out.splitlines() if line.startswith("Apply complete!"))
        return int(line.split("Resources: ")[1].split(" added")[0])

    def plan(self) -> PlanResult:
        result = self.run("plan", "-detailed-exitcode", "-input=false", "-out=tfplan", check=False)
        if result.returncode not in (0, 2):
            raise AssertionError(f"terraform plan failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        shown = json.loads(self.run("show", "-json", "tfplan").stdout)
        changes = [
            rc for rc in shown.get("resource_changes", []) if rc["change"]["actions"] not in (["no-op"], ["read"])
        ]
        return PlanResult(exit_code=result.returncode, changes=changes)

    def destroy(self) -> int:
        out = self.run("destroy", "-auto-approve", "-input=false").stdout
        line = next(line for line in out.splitlines() if line.startswith("Destroy complete!"))
        return int(line.split("Resources: ")[1].split(" destroyed")[0])

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(self.run("output", "-json").stdout)
        return {k: v["value"] for k, v in raw.items()}

    def state_resources(self) -> list[str]:
        result = self.run("state", "list", check=False)
        return [line for line in result.stdout.splitlines() if line and not line.startswith("data.")]

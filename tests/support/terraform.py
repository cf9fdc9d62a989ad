"""Drive terraform on one synthesized stack in a scratch folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PlanResult:
    exit_code: int  # -detailed-exitcode: 0 no changes, 2 changes
    changes: list[dict]  # resource_changes whose actions are not ["no-op"] / ["read"]


class TerraformStack:
    def __init__(self, terraform: str, source: Path, workdir: Path, mirror: Path, env: dict[str, str],
                 local_backend: bool = False) -> None:
        shutil.copytree(source, workdir)
        self.terraform = terraform
        self.workdir = workdir
        self.mirror = mirror
        self.env = {**os.environ, **env, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
                    "TF_CLI_CONFIG_FILE": os.devnull}
        if local_backend:
            # Swap a remote backend for a local file at test time; the stack itself is unchanged.
            (workdir / "backend_override.tf.json").write_text(
                json.dumps({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}})
            )

    def run(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([self.terraform, *args, "-no-color"], cwd=self.workdir, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed in {self.workdir}:\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def init(self) -> None:
        self.run("init", "-input=false", f"-plugin-dir={self.mirror}")

    def apply(self) -> int:
        """Apply; returns the number of resources added."""
        out = self.run("apply", "-auto-approve", "-input=false").stdout
        line = next(l for l in out.splitlines() if l.startswith("Apply complete!"))
        return int(line.split("Resources: ")[1].split(" added")[0])

    def plan(self) -> PlanResult:
        result = self.run("plan", "-detailed-exitcode", "-input=false", "-out=tfplan", check=False)
        if result.returncode not in (0, 2):
            raise AssertionError(f"terraform plan failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        shown = json.loads(self.run("show", "-json", "tfplan").stdout)
        changes = [
            rc for rc in shown.get("resource_changes", [])
            if rc["change"]["actions"] not in (["no-op"], ["read"])
        ]
        return PlanResult(exit_code=result.returncode, changes=changes)

    def destroy(self) -> int:
        out = self.run("destroy", "-auto-approve", "-input=false").stdout
        line = next(l for l in out.splitlines() if l.startswith("Destroy complete!"))
        return int(line.split("Resources: ")[1].split(" destroyed")[0])

    def outputs(self) -> dict:
        raw = json.loads(self.run("output", "-json").stdout)
        return {k: v["value"] for k, v in raw.items()}

    def state_resources(self) -> list[str]:
        result = self.run("state", "list", check=False)
        return [l for l in result.stdout.splitlines() if l and not l.startswith("data.")]

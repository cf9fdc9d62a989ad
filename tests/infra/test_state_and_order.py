"""Local state survives what replaces the synth output, and cdktf knows the stacks' order from the app."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from config.environments import ENVIRONMENTS
from stacks.base import STATE_DIR, local_state_path
from tests.support.stacks import Stack

REPO = Path(__file__).resolve().parents[2]


def local_stacks(stacks: dict[str, Stack]) -> dict[str, str]:
    """Stack name -> the local backend's path, for every stack that keeps its state locally."""
    return {
        name: s["terraform"]["backend"]["local"]["path"]
        for name, s in stacks.items()
        if "local" in s["terraform"]["backend"]
    }


def test_local_state_resolves_beside_the_synth_output_not_inside_it(stacks: dict[str, Stack], tmp_path: Path) -> None:
    paths = local_stacks(stacks)
    assert set(paths) == {"inference-dev", "inference-dev-registry"}
    for name, path in paths.items():
        assert path == local_state_path(name) and not Path(path).is_absolute()  # the same on every machine
        # terraform runs in <out>/stacks/<stack>/, as `cdktf deploy --output <out>` lays it out
        resolved = (tmp_path / "cdktf.out" / "stacks" / name / path).resolve()
        assert resolved == tmp_path / STATE_DIR / f"{name}.tfstate"


def test_make_clean_keeps_the_state(tmp_path: Path) -> None:
    """`make clean` removes the synth output and build folders; the state files beside them stay."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    synthesized = tmp_path / "cdktf.out" / "stacks" / "inference-dev"
    synthesized.mkdir(parents=True)
    (synthesized / "cdk.tf.json").write_text("{}")
    state = tmp_path / STATE_DIR / "inference-dev.tfstate"
    state.parent.mkdir()
    state.write_text('{"version": 4, "resources": [{"type": "aws_s3_bucket"}]}')
    subprocess.run(["make", "--no-print-directory", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert not (tmp_path / "cdktf.out").exists()
    assert json.loads(state.read_text())["resources"] == [{"type": "aws_s3_bucket"}]


def test_state_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", f"{STATE_DIR}/inference-dev.tfstate"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ignored.returncode == 0


def test_each_inference_stack_depends_on_its_registry(synth_dir: Path) -> None:
    """cdktf reads the order from the manifest: deploy the registry first, destroy it last."""
    manifest = json.loads((synth_dir / "manifest.json").read_text())["stacks"]
    for env in ENVIRONMENTS.values():
        assert manifest[env.stack_name]["dependencies"] == [env.registry_stack_name]
        assert manifest[env.registry_stack_name]["dependencies"] == []


def test_every_lifecycle_configuration_waits_long_enough_for_a_busy_endpoint(stacks: dict[str, Stack]) -> None:
    """Issue #29: the provider reads the rules back until 10 reads 5 s apart agree, within 3 minutes by
    default; on a loaded machine (the emulator at load 4-7 on 2 cores) those reads took longer and 28 tests
    errored with "timeout while waiting for state to become 'true' (last state: 'true')". Every bucket's
    lifecycle configuration now allows SecureBucket's LIFECYCLE_WAIT for create and update."""
    from infra_constructs.secure_bucket import LIFECYCLE_WAIT

    found = [
        config
        for stack in stacks.values()
        for config in stack.get("resource", {}).get("aws_s3_bucket_lifecycle_configuration", {}).values()
    ]
    assert len(found) >= 4, "both buckets of both environments"
    assert all(config.get("timeouts") == {"create": LIFECYCLE_WAIT, "update": LIFECYCLE_WAIT} for config in found)

"""`terraform validate` of every synthesized stack, providers from the offline mirror only."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import STACK_NAMES
from tests.support.components import provider_mirror, terraform_binary

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stack_name", STACK_NAMES)
def test_terraform_validate(synth_dir, tmp_path, stack_name):
    terraform = terraform_binary()
    mirror = provider_mirror()
    workdir = tmp_path / stack_name
    shutil.copytree(synth_dir / "stacks" / stack_name, workdir)
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={mirror}"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = subprocess.run(
        [terraform, "validate", "-json", "-no-color"], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert '"valid": true' in validate.stdout

"""The deploy tier: real terraform and the AWS provider against a moto server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from config.environments import ENVIRONMENTS
from operations import release_pointer
from tests.support.components import provider_mirror, terraform_binary
from tests.support.deployment import ACCOUNTS, APPLY_ORDER, RELEASED, Deployment, DeployReport
from tests.support.emulator import MotoServer
from tests.support.terraform import TerraformStack


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server for the whole tier; each test module works in its own emulated account(s)."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture(scope="package")
def deployment(synth_dir: Path, emulator: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Each environment in its own emulated account: prod planned first, on an empty account
    (before its registry exists), then registry and inference stack applied, dev and prod side by side."""
    terraform = terraform_binary()
    mirror = provider_mirror()
    scratch = tmp_path_factory.mktemp("emulator")
    credentials = {env: emulator.environment(account) for env, account in ACCOUNTS.items()}
    stacks = {
        name: TerraformStack(
            terraform,
            synth_dir / "stacks" / name,
            # laid out as cdktf's output is, so dev's local state lands in <scratch>/.state/
            scratch / "cdktf.out" / "stacks" / name,
            mirror,
            credentials[name.split("-")[1]],
            local_backend=name.startswith("inference-prod"),
        )
        for name in APPLY_ORDER
    }
    for stack in stacks.values():  # one at a time: the provider download cache is not concurrency-safe
        stack.init()
    report = DeployReport()
    outputs: dict[str, dict[str, Any]] = {}
    deployment = Deployment(server=emulator, stacks=stacks, outputs=outputs, report=report, credentials=credentials)

    def deploy_environment(env: str) -> None:
        # the release `make deploy` would have recorded: the inference stack reads it at plan time
        release_pointer.write(deployment.client("ssm", env), ENVIRONMENTS[env], RELEASED[env])
        if env == "prod":
            report.first_prod_plan = stacks["inference-prod"].plan()
        for name in (f"inference-{env}-registry", f"inference-{env}"):
            report.applied[name] = stacks[name].apply()
            outputs[name] = stacks[name].outputs()

    with ThreadPoolExecutor(max_workers=len(ACCOUNTS)) as pool:
        for future in [pool.submit(deploy_environment, env) for env in ACCOUNTS]:
            future.result()
    yield deployment

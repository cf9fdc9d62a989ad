"""The deploy tier: real terraform + the offline AWS provider against a moto server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import boto3
import pytest

from tests.support.components import provider_mirror, terraform_binary
from tests.support.emulator import MotoServer
from tests.support.terraform import PlanResult, TerraformStack


@dataclass
class DeployReport:
    applied: dict[str, int] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)
    drift: dict[str, list[str]] = field(default_factory=dict)
    tolerated: dict[str, list[str]] = field(default_factory=dict)
    destroyed: dict[str, int] = field(default_factory=dict)
    prod_plan: PlanResult | None = None

    def verify(self, what: str) -> None:
        self.verified.add(what)


@dataclass
class Deployment:
    server: MotoServer
    stacks: dict[str, TerraformStack]
    outputs: dict[str, dict]
    report: DeployReport

    credentials: dict[str, dict[str, str]]

    def client(self, service: str, env: str = "dev"):
        creds = self.credentials[env]
        return boto3.client(service, endpoint_url=self.server.endpoint, region_name="us-east-1",
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds.get("AWS_SESSION_TOKEN"))


APPLY_ORDER = ("inference-dev-registry", "inference-dev", "inference-prod-registry", "inference-prod")
# dev and prod in separate (emulated) accounts, as on AWS: account-level settings such as
# API Gateway's CloudWatch role are then each environment's own.
ACCOUNTS = {"dev": None, "prod": "222222222222"}  # None: moto's default account


@pytest.fixture(scope="package")
def deployment(synth_dir, tmp_path_factory):
    terraform = terraform_binary()
    mirror = provider_mirror()
    scratch = tmp_path_factory.mktemp("emulator")
    server = MotoServer(scratch / "moto.log")
    try:
        credentials = {env: server.environment(account) for env, account in ACCOUNTS.items()}
        stacks = {
            name: TerraformStack(terraform, synth_dir / "stacks" / name, scratch / name, mirror,
                                 credentials[name.split("-")[1]],
                                 local_backend=name.startswith("inference-prod"))
            for name in APPLY_ORDER
        }
        report = DeployReport()
        outputs = {}

        def deploy_environment(env: str) -> None:
            """Registry first, then the inference stack (prod: planned before it is applied)."""
            for name in (f"inference-{env}-registry", f"inference-{env}"):
                stacks[name].init()
                if name == "inference-prod":
                    report.prod_plan = stacks[name].plan()
                report.applied[name] = stacks[name].apply()
                outputs[name] = stacks[name].outputs()

        # The two environments live in separate accounts: deploy them side by side.
        with ThreadPoolExecutor(max_workers=len(ACCOUNTS)) as pool:
            for future in [pool.submit(deploy_environment, env) for env in ACCOUNTS]:
                future.result()
        report.applied = {name: report.applied[name] for name in APPLY_ORDER}
        yield Deployment(server=server, stacks=stacks, outputs=outputs, report=report, credentials=credentials)
    finally:
        server.stop()

"""What the emulator deploy tier applied, and clients for the accounts it applied to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support.emulator import MotoServer
from tests.support.terraform import PlanResult, TerraformStack

APPLY_ORDER = ("inference-dev-registry", "inference-dev", "inference-prod-registry", "inference-prod")
# dev and prod in separate (emulated) accounts, as on AWS: account-level settings such as
# API Gateway's CloudWatch role are then each environment's own.
ACCOUNTS: dict[str, str | None] = {"dev": None, "prod": "222222222222"}  # None: moto's default account
RELEASED = {"dev": "sha256:" + "d" * 64, "prod": "sha256:" + "e" * 64}
"""The digest each environment's release pointer holds before its inference stack is planned: what
`make deploy` records (operations/release_pointer.py) and the stack reads at plan time."""


@dataclass
class DeployReport:
    applied: dict[str, int] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)
    drift: dict[str, list[str]] = field(default_factory=dict)
    tolerated: dict[str, list[str]] = field(default_factory=dict)
    destroyed: dict[str, int] = field(default_factory=dict)
    first_prod_plan: PlanResult | None = None
    """inference-prod planned on an account where nothing exists yet, its registry included."""

    def verify(self, what: str) -> None:
        self.verified.add(what)


@dataclass
class Deployment:
    server: MotoServer
    stacks: dict[str, TerraformStack]
    outputs: dict[str, dict[str, Any]]
    report: DeployReport
    credentials: dict[str, dict[str, str]]

    def client(self, service: str, env: str = "dev") -> Any:
        creds = self.credentials[env]
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        )

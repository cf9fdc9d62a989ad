"""The release pointer: one SSM parameter per environment, `/<project>/<env>/release/image-digest`, holding
the digest `make deploy` or `make rollback` last deployed.

Why SSM: the inference stack reads it at plan time with a data source (`aws_ssm_parameters_by_path`), in
the account and region it deploys to, with the credentials terraform already has. So a by-hand `npx cdktf
deploy inference-dev`, `npx cdktf diff inference-prod`, `make diff` and CI plan the same image, the
synthesized JSON stays the same for every account (no AWS call at synth time, which for `cdktf diff
inference-prod` would also synthesize dev with prod's credentials), and a plain `terraform plan` of
cdktf.out/stacks/inference-<env> reads it too. It is written outside Terraform (like the API keys): a
pointer in the stack's own state would move only when the stack is applied, which is what it must steer.
"""

from __future__ import annotations

from typing import Any

from config.schema import EnvironmentConfig


def read(ssm: Any, env: EnvironmentConfig) -> str | None:
    """The recorded digest, or None when the environment has no release yet."""
    try:
        return str(ssm.get_parameter(Name=env.release_parameter)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def write(ssm: Any, env: EnvironmentConfig, digest: str) -> None:
    """Record `digest` as the environment's release (after the stack deployed it)."""
    ssm.put_parameter(
        Name=env.release_parameter,
        Value=digest,
        Type="String",
        Overwrite=True,
        Description=f"{env.stack_name}: the image digest make deploy/rollback last deployed",
    )

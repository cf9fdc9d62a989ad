#!/usr/bin/env python
"""Which Terraform state bucket an environment uses in the account at hand.

    .venv/bin/python -m operations.state_bucket --env prod     prints it (for a plain `terraform init`)

`state.bucket` names it, or (the default, None) it is `<project>-tfstate-<account>-<region>`, named per
account and region as `cdk bootstrap` names its staging bucket, so no two adopters, accounts or regions
share a name and nobody has to choose one. A backend block takes no expressions, so the account is found
before terraform runs: `make bootstrap` makes the bucket in the account of its credentials, and app.py
(what every `cdktf synth`, `deploy` and `diff`, by hand or by make, runs first) writes the same name into
the S3 backend, from the same credentials, with STS GetCallerIdentity (which needs no permission).
Without credentials app.py writes the backend without its bucket (a partial configuration: the
account-independent JSON the snapshot tests hold) and says so; `terraform init
-backend-config=bucket=<name>` completes it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from config.schema import EnvironmentConfig, S3StateBackend


class AccountUnknown(Exception):
    """No credentials answered STS: the derived state bucket cannot be named."""


def needs_account(env: EnvironmentConfig) -> bool:
    """Whether the environment's state bucket is named per account (S3 state without `state.bucket`)."""
    return isinstance(env.state, S3StateBackend) and env.state.bucket is None


def account_of_credentials(region: str) -> str:
    """The account of the credentials at hand (the chain terraform's S3 backend and provider use too)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    try:
        # A session of its own: boto3's default one keeps the credentials it found first in this process.
        sts = boto3.session.Session().client("sts", region_name=region, config=config)
        return str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as exc:
        raise AccountUnknown(f"{type(exc).__name__}: {exc}") from None


def account_for(environments: Iterable[EnvironmentConfig]) -> tuple[str | None, str]:
    """The account to name derived state buckets by, and a note for stderr when it is unknown ('' if none)."""
    derived = [env for env in environments if needs_account(env)]
    if not derived:
        return None, ""
    state = derived[0].state
    assert isinstance(state, S3StateBackend)
    try:
        return account_of_credentials(state.region), ""
    except AccountUnknown as exc:
        names = ", ".join(env.name for env in derived)
        return None, (
            f"note: the state bucket of {names} is named per AWS account and no credentials answered ({exc}); "
            "synthesized without it: a deploy or diff needs credentials (or name state.bucket in "
            "config/environments.py), a plain terraform init needs -backend-config=bucket=<name>"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="operations.state_bucket", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    args = parser.parse_args(argv)
    from config.environments import get_environment
    from contract.validation import ConfigError

    try:
        env = get_environment(args.env)
        state = env.state
        if not isinstance(state, S3StateBackend):
            print(f"error: {env.name} keeps local state (.state/ beside cdktf.out): no state bucket", file=sys.stderr)
            return 2
        account = account_of_credentials(state.region) if state.bucket is None else ""
    except (ConfigError, AccountUnknown) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(env.state_bucket(account))
    return 0


if __name__ == "__main__":
    sys.exit(main())

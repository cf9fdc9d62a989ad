"""The state bucket: named per account and region unless named (as `cdk bootstrap` names its own), and the
same name wherever it is used: bootstrap makes it, app.py writes it into the backend, the CI roles may use it.
The synthesized JSON without an account (the snapshots') leaves it to `terraform init -backend-config`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import cdktf
import pytest
from moto import mock_aws

from app import with_synth_overrides
from config.environments import DEV, ENVIRONMENTS, PROD
from config.schema import S3StateBackend
from operations import ci_policies, state_bucket
from stacks import RegistryStack
from tests.support.stacks import Stack

ACCOUNT = "210987654321"
assert isinstance(PROD.state, S3StateBackend)
NAMED = dataclasses.replace(PROD, state=dataclasses.replace(PROD.state, bucket="acme-audio-tfstate"))


def backend_of(env: Any) -> dict[str, Any]:
    stack = json.loads(cdktf.Testing.synth(RegistryStack(cdktf.Testing.app(), env)))
    return dict(stack["terraform"]["backend"])


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    with mock_aws():
        yield


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role here, and no wait for one


def test_the_synthesized_json_names_no_account(stacks: dict[str, Stack]) -> None:
    """What the snapshots hold: the same JSON for every account, the bucket left to terraform init."""
    for name in ("inference-prod", "inference-prod-registry"):
        backend = stacks[name]["terraform"]["backend"]["s3"]
        assert "bucket" not in backend, name
        assert backend["key"] == f"audio-inference/prod/{name}.tfstate" and backend["use_lockfile"] is True


@pytest.mark.slow
def test_with_an_account_the_backend_names_that_accounts_bucket() -> None:
    env = with_synth_overrides(PROD, {}, ACCOUNT)
    bucket = f"audio-inference-tfstate-{ACCOUNT}-us-east-1"
    assert backend_of(env)["s3"]["bucket"] == bucket
    # the name bootstrap makes and the CI roles' state statements name
    assert PROD.state_bucket(ACCOUNT) == bucket
    arns = ci_policies._Arns(PROD, ACCOUNT, "aws", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k")
    assert arns.state_bucket == f"arn:aws:s3:::{bucket}"


@pytest.mark.slow
def test_a_named_bucket_is_the_same_in_every_account_and_local_state_is_untouched() -> None:
    named = NAMED
    assert backend_of(with_synth_overrides(named, {}, ACCOUNT))["s3"]["bucket"] == "acme-audio-tfstate"
    assert named.state_bucket("111111111111") == named.state_bucket(ACCOUNT) == "acme-audio-tfstate"
    assert with_synth_overrides(DEV, {}, ACCOUNT) == DEV
    assert "local" in backend_of(with_synth_overrides(DEV, {}, ACCOUNT))


def test_the_account_is_the_one_of_the_credentials_at_hand(credentials: None) -> None:
    assert state_bucket.account_for(ENVIRONMENTS.values()) == (ACCOUNT, "")


def test_no_account_is_asked_for_when_every_bucket_is_named_or_state_is_local(no_credentials: None) -> None:
    assert state_bucket.account_for([DEV, NAMED]) == (None, "")


def test_without_credentials_synth_says_what_is_missing_and_how_to_complete_it(no_credentials: None) -> None:
    account, note = state_bucket.account_for(ENVIRONMENTS.values())
    assert account is None
    assert note.startswith("note: the state bucket of prod is named per AWS account and no credentials answered")
    assert "NoCredentialsError" in note and "-backend-config=bucket=<name>" in note and "state.bucket" in note
    assert "\n" not in note


def test_credentials_the_process_found_earlier_are_not_taken_for_the_accounts(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3's default session keeps the first credentials it found; the state bucket's account is the one
    of the credentials at hand now, as terraform will see them (this failed in CI before its own session)."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session(aws_access_key_id="stale", aws_secret_access_key="stale", region_name="us-east-1")
    assert boto3.client("sts").meta.region_name == "us-east-1"  # the default session holds the stale keys
    account, note = state_bucket.account_for(ENVIRONMENTS.values())
    assert account is None and "NoCredentialsError" in note


def test_the_command_prints_the_bucket_for_a_plain_terraform_init(credentials: None, capsys: Any) -> None:
    assert state_bucket.main(["--env", "prod"]) == 0
    assert capsys.readouterr().out == f"audio-inference-tfstate-{ACCOUNT}-us-east-1\n"
    assert boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"] == ACCOUNT


def test_the_command_refuses_in_one_line(no_credentials: None, capsys: Any) -> None:
    assert state_bucket.main(["--env", "prod"]) == 2
    assert capsys.readouterr().err == "error: NoCredentialsError: Unable to locate credentials\n"
    assert state_bucket.main(["--env", "dev"]) == 2
    assert capsys.readouterr().err == "error: dev keeps local state (.state/ beside cdktf.out): no state bucket\n"
    assert state_bucket.main(["--env", "staging"]) == 2
    assert "one of ['dev', 'prod']" in capsys.readouterr().err

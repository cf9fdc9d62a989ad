"""`make bootstrap`: the state bucket made like cdk bootstrap's, idempotent, repaired when drifted,
in the environment's region whatever the shell's; run against moto in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.environments import DEV, PROD
from config.schema import S3StateBackend
from scripts import bootstrap

assert isinstance(PROD.state, S3StateBackend)
STATE = PROD.state


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # not the environment's: must not be used
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("s3", region_name=STATE.region)


def settings(s3: Any) -> dict[str, Any]:
    bucket = STATE.bucket
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket)["Status"],
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "public_access": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
    }


def test_the_state_bucket_is_versioned_encrypted_private_tls_only_and_undeletable(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    assert capsys.readouterr().out.startswith(f"prod: state bucket s3://{STATE.bucket} in {STATE.region} created")
    assert s3.get_bucket_location(Bucket=STATE.bucket)["LocationConstraint"] in (None, STATE.region)
    found = settings(s3)
    assert found["versioning"] == "Enabled"
    assert found["encryption"] == [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
    ]
    assert found["public_access"] == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert found["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    statements = {s["Sid"]: s for s in found["policy"]["Statement"]}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert statements["DenyStateBucketDeletion"] == {
        "Sid": "DenyStateBucketDeletion",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{STATE.bucket}",
    }
    rules = {r["ID"]: r for r in found["lifecycle"]}
    assert rules["expire-noncurrent-state-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": STATE.noncurrent_version_expiry_days
    }
    assert not any("Expiration" in r for r in found["lifecycle"]), "the current state never expires"


def test_a_second_run_changes_nothing_and_a_drifted_bucket_is_repaired(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    first = settings(s3)
    assert bootstrap.main(["--env", "prod"]) == 0
    assert settings(s3) == first
    s3.put_bucket_versioning(Bucket=STATE.bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=STATE.bucket)
    assert bootstrap.main(["--env", "prod"]) == 0
    assert settings(s3) == first
    assert "already there; settings re-applied" in capsys.readouterr().out.splitlines()[-1]


def test_dev_has_local_state_and_nothing_to_make(s3: Any, capsys) -> None:
    assert DEV.state is None
    assert bootstrap.main(["--env", "dev"]) == 0
    assert capsys.readouterr().out == "dev: local state (.state/ beside cdktf.out): no state bucket to make\n"
    assert s3.list_buckets()["Buckets"] == []


def test_an_unknown_environment_is_one_line(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "staging"]) == 2
    assert capsys.readouterr().err == "error: environment='staging' is invalid: allowed one of ['dev', 'prod']\n"

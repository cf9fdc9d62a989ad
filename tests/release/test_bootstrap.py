"""`make bootstrap`: the state bucket made like cdk bootstrap's, idempotent, repaired when drifted,
in the environment's region whatever the shell's; run against moto in-process."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from config import environments
from config.environments import DEV, PROD
from config.schema import CiIdentities, S3StateBackend
from operations import bootstrap, ci_identities, ci_policies

assert isinstance(PROD.state, S3StateBackend)
STATE = PROD.state
ACCOUNT = "123456789012"  # moto's default account
BUCKET = PROD.state_bucket(ACCOUNT)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # not the environment's: must not be used
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("s3", region_name=STATE.region)


def settings(s3: Any) -> dict[str, Any]:
    bucket = BUCKET
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket)["Status"],
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "public_access": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
    }


def state_key_arn() -> str:
    kms = boto3.client("kms", region_name=STATE.region)
    return str(kms.describe_key(KeyId=ci_policies.state_key_alias(PROD))["KeyMetadata"]["Arn"])


def test_the_state_bucket_is_versioned_encrypted_private_tls_only_and_undeletable(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"prod: state bucket s3://{BUCKET} in {STATE.region} created")
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] in (None, STATE.region)
    found = settings(s3)
    assert found["versioning"] == "Enabled"
    assert found["encryption"] == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": state_key_arn()},
            "BucketKeyEnabled": True,
        }
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
        "Resource": f"arn:aws:s3:::{BUCKET}",
    }
    rules = {r["ID"]: r for r in found["lifecycle"]}
    assert rules["expire-noncurrent-state-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": STATE.noncurrent_version_expiry_days
    }
    assert not any("Expiration" in r for r in found["lifecycle"]), "the current state never expires"


def test_the_state_key_is_made_once_rotated_governed_by_the_accounts_iam_and_reused(s3: Any, capsys) -> None:
    kms = boto3.client("kms", region_name=STATE.region)
    alias = "alias/audio-inference-prod-terraform-state"
    assert ci_policies.state_key_alias(PROD) == alias
    assert bootstrap.main(["--env", "prod"]) == 0
    key = state_key_arn()
    assert capsys.readouterr().out.splitlines()[0] == (
        f"prod: state key {alias} {key} created (customer-managed, rotated yearly)"
    )
    metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert (metadata["KeyManager"], metadata["KeyState"], metadata["KeySpec"]) == (
        "CUSTOMER",
        "Enabled",
        "SYMMETRIC_DEFAULT",
    )
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == ci_policies.state_key_policy(
        ACCOUNT
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
    assert tags["Environment"] == "prod" and tags["ManagedBy"] == "make bootstrap"

    kms.disable_key_rotation(KeyId=key)  # drift: put back
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    assert bootstrap.main(["--env", "prod"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[0]
        == f"prod: state key {alias} {key} already there (customer-managed, rotated yearly)"
    )
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [metadata["KeyId"]], "one key, reused"
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == ci_policies.state_key_policy(
        ACCOUNT
    )
    assert settings(s3)["encryption"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key


def test_the_state_bucket_is_named_per_account_and_region_unless_named(
    s3: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """As cdk bootstrap names its own: no adopter shares a name with another or has to choose one."""
    assert STATE.bucket is None and BUCKET == "audio-inference-tfstate-123456789012-us-east-1"
    assert bootstrap.main(["--env", "prod"]) == 0
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "210987654321")  # a second account: its own bucket, its own name
    assert bootstrap.main(["--env", "prod"]) == 0
    second_bucket = f"audio-inference-tfstate-210987654321-{STATE.region}"
    assert f"s3://{second_bucket} in {STATE.region} created" in capsys.readouterr().out
    named = dataclasses.replace(PROD, state=dataclasses.replace(STATE, bucket="acme-audio-tfstate"))
    monkeypatch.setattr(environments, "ENVIRONMENTS", {**environments.ENVIRONMENTS, "prod": named})
    assert bootstrap.main(["--env", "prod"]) == 0
    assert "s3://acme-audio-tfstate in" in capsys.readouterr().out
    second = boto3.client("s3", region_name=STATE.region)
    buckets = {b["Name"] for b in second.list_buckets()["Buckets"]}
    assert buckets == {second_bucket, "acme-audio-tfstate"}


def test_a_second_environment_in_the_same_account_and_region_is_refused_the_firsts_bucket(
    s3: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The derived name is per account and region, and the bucket encrypts with one environment's state
    key: a second environment there would take the bucket's key from the first (a reviewer's finding)."""
    assert bootstrap.main(["--env", "prod"]) == 0
    staging = dataclasses.replace(PROD, name="staging", ci=None)
    assert staging.state_bucket(ACCOUNT) == BUCKET
    monkeypatch.setattr(environments, "ENVIRONMENTS", {**environments.ENVIRONMENTS, "staging": staging})
    capsys.readouterr()
    assert bootstrap.main(["--env", "staging"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith(
        f"state bucket '{BUCKET}' holds audio-inference-prod's state, encrypted with its key "
        "(alias/audio-inference-prod-terraform-state): give staging its own bucket (state.bucket in "
        "config/environments.py) or its own account"
    ), error
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == state_key_arn(), "prod's kept"
    named = dataclasses.replace(staging, state=dataclasses.replace(STATE, bucket="acme-staging-tfstate"))
    monkeypatch.setattr(environments, "ENVIRONMENTS", {**environments.ENVIRONMENTS, "staging": named})
    assert bootstrap.main(["--env", "staging"]) == 0
    assert bootstrap.main(["--env", "prod"]) == 0, "prod's own bucket is still its own"


def test_a_state_bucket_name_held_by_another_account_is_refused_in_one_line() -> None:
    """S3 names are global and the derived one is predictable: bootstrap never adopts a bucket another account
    made first, even one whose policy lets everyone in (ExpectedBucketOwner; moto ignores it, so a Stubber)."""
    client = boto3.client("s3", region_name=STATE.region, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error(
            "head_bucket",
            http_status_code=403,
            expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT},
        )
        with pytest.raises(bootstrap.ReleaseError, match=f"state bucket '{BUCKET}' exists but belongs to another"):
            bootstrap.ensure_bucket(client, BUCKET, STATE.region, ACCOUNT)


def test_a_state_key_pending_deletion_is_refused_in_one_line(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    key = state_key_arn()
    boto3.client("kms", region_name=STATE.region).schedule_key_deletion(
        KeyId=key.split("/")[-1], PendingWindowInDays=7
    )  # moto: an id
    capsys.readouterr()
    assert bootstrap.main(["--env", "prod"]) == 2
    assert capsys.readouterr().err == (
        f"error: state key alias/audio-inference-prod-terraform-state ({key}) is PendingDeletion: allowed Enabled "
        "(cancel its deletion or enable it in KMS, then run bootstrap again)\n"
    )


def test_a_second_run_changes_nothing_and_a_drifted_bucket_is_repaired(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    first = settings(s3)
    assert bootstrap.main(["--env", "prod"]) == 0
    assert settings(s3) == first
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.put_bucket_encryption(  # back to the AWS-managed aws/s3 key
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    assert bootstrap.main(["--env", "prod"]) == 0
    assert settings(s3) == first
    assert "already there; settings re-applied" in capsys.readouterr().out.splitlines()[-2]


def boundary_document(iam: Any, env: Any) -> dict[str, Any]:
    arn = ci_policies.permissions_boundary_arn(env, ACCOUNT)
    default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return ci_identities._document(
        iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
    )


def test_dev_has_local_state_no_bucket_and_its_permissions_boundary(s3: Any, capsys) -> None:
    assert DEV.state is None
    assert bootstrap.main(["--env", "dev"]) == 0
    arn = f"arn:aws:iam::{ACCOUNT}:policy/audio-inference-dev-permissions-boundary"
    assert capsys.readouterr().out.splitlines() == [
        "dev: local state (.state/ beside cdktf.out): no state bucket to make",
        f"dev: permissions boundary {arn} created (every role the stacks create carries it)",
    ]
    assert s3.list_buckets()["Buckets"] == []
    iam = boto3.client("iam", region_name=DEV.region)
    assert boundary_document(iam, DEV) == ci_policies.permissions_boundary(DEV, ACCOUNT)


def test_the_boundary_is_put_back_when_edited_and_left_alone_when_not(s3: Any, capsys) -> None:
    iam = boto3.client("iam", region_name=STATE.region)
    assert bootstrap.main(["--env", "prod"]) == 0
    wanted = ci_policies.permissions_boundary(PROD, ACCOUNT)
    assert boundary_document(iam, PROD) == wanted
    statements = {s["Sid"]: s for s in wanted["Statement"]}
    assert statements["NoIdentityOrAccountAdministration"] == {
        "Sid": "NoIdentityOrAccountAdministration",
        "Effect": "Deny",
        "Action": ["account:*", "iam:*", "organizations:*"],
        "Resource": "*",
    }
    assert bootstrap.main(["--env", "prod"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("already there (every role the stacks create carries it)")
    widened = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "*"}],
    }
    arn = ci_policies.permissions_boundary_arn(PROD, ACCOUNT)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(widened), SetAsDefault=True)
    assert bootstrap.main(["--env", "prod"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"prod: permissions boundary {arn} repaired (every role the stacks create carries it)"
    )
    assert boundary_document(iam, PROD) == wanted


def test_an_unknown_environment_is_one_line(s3: Any, capsys) -> None:
    assert bootstrap.main(["--env", "staging"]) == 2
    assert capsys.readouterr().err == "error: environment='staging' is invalid: allowed one of ['dev', 'prod']\n"


# The CI identities (ci set): the provider, the plan and the deploy role, idempotent and repaired.

CI = CiIdentities(repository="octo-org/audio-inference")
PROD_WITH_CI = dataclasses.replace(PROD, ci=CI)


@pytest.fixture
def iam(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(environments.ENVIRONMENTS, "prod", PROD_WITH_CI)
    return boto3.client("iam", region_name=STATE.region)


def ci_state(iam: Any) -> dict[str, Any]:
    """Everything bootstrap puts on the CI identities, as documents: what a re-run must leave alone."""
    found: dict[str, Any] = {}
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=ci_policies.oidc_provider_arn(ACCOUNT))
    found["provider"] = (provider["Url"].removeprefix("https://"), sorted(provider["ClientIDList"]))
    for kind, name in ci_policies.role_names(PROD_WITH_CI).items():
        role = iam.get_role(RoleName=name)["Role"]
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        policies = {}
        for policy in attached:
            default = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
            version = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=default)["PolicyVersion"]
            policies[policy["PolicyName"]] = ci_identities._document(version["Document"])
        found[kind] = {
            "trust": ci_identities._document(role["AssumeRolePolicyDocument"]),
            "max_session": role["MaxSessionDuration"],
            "inline": iam.list_role_policies(RoleName=name)["PolicyNames"],
            "policies": policies,
        }
    return found


def merged(policies: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for name in sorted(policies, key=lambda n: int(n.rsplit("-", 1)[1])) for s in policies[name]["Statement"]]


def test_with_ci_set_bootstrap_makes_the_provider_and_both_roles(iam: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = ci_policies.role_names(PROD_WITH_CI)
    plan_arn, deploy_arn = (f"arn:aws:iam::{ACCOUNT}:role/{names[k]}" for k in ("plan", "deploy"))
    assert out[3:] == [
        f"prod: GitHub OIDC provider {ci_policies.oidc_provider_arn(ACCOUNT)} created",
        f"prod: plan role {plan_arn} created",
        f"prod: deploy role {deploy_arn} created",
        f"prod: set in octo-org/audio-inference the repository variable AWS_PLAN_ROLE_ARN={plan_arn} "
        f"and the prod environment's variable AWS_DEPLOY_ROLE_ARN={deploy_arn}",
    ]
    found = ci_state(iam)
    assert found["provider"] == ("token.actions.githubusercontent.com", ["sts.amazonaws.com"])
    provider = ci_policies.oidc_provider_arn(ACCOUNT)
    condition = "token.actions.githubusercontent.com"
    assert found["plan"]["trust"]["Statement"] == [
        {
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{condition}:aud": "sts.amazonaws.com",
                    f"{condition}:sub": "repo:octo-org/audio-inference:pull_request",
                }
            },
        }
    ]
    assert found["deploy"]["trust"]["Statement"][0]["Condition"]["StringEquals"][f"{condition}:sub"] == (
        "repo:octo-org/audio-inference:environment:prod"
    )
    key = state_key_arn()
    assert (
        merged(found["plan"]["policies"])
        == (ci_policies.plan_permissions(PROD_WITH_CI, ACCOUNT, state_key_arn=key)["Statement"])
    )
    assert (
        merged(found["deploy"]["policies"])
        == (ci_policies.deploy_permissions(PROD_WITH_CI, ACCOUNT, state_key_arn=key)["Statement"])
    )
    statements = {s["Sid"]: s for s in merged(found["plan"]["policies"])}
    assert statements["StateKeyThroughS3Only"]["Resource"] == key, "the key bootstrap made, by its ARN"
    assert len(found["deploy"]["policies"]) >= 2, "the deploy document is split to IAM's managed policy size"
    assert found["plan"]["inline"] == found["deploy"]["inline"] == []
    assert found["plan"]["max_session"] == CI.max_session_s


def test_with_ci_set_a_second_run_changes_nothing_and_drift_is_repaired(iam: Any, capsys) -> None:
    assert bootstrap.main(["--env", "prod"]) == 0
    first = ci_state(iam)
    assert bootstrap.main(["--env", "prod"]) == 0
    assert ci_state(iam) == first
    out = capsys.readouterr().out.splitlines()
    assert out[-4].endswith("already there") and out[-3].endswith("unchanged") and out[-2].endswith("unchanged")

    names = ci_policies.role_names(PROD_WITH_CI)
    widened = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    edited = f"arn:aws:iam::{ACCOUNT}:policy/{names['plan']}-1"
    iam.create_policy_version(PolicyArn=edited, PolicyDocument=json.dumps(widened), SetAsDefault=True)
    iam.update_assume_role_policy(
        RoleName=names["deploy"],
        PolicyDocument=json.dumps(ci_policies.trust_policy(ci_policies.oidc_provider_arn(ACCOUNT), "repo:octo-org/*")),
    )
    iam.put_role_policy(RoleName=names["deploy"], PolicyName="by-hand", PolicyDocument=json.dumps(widened))
    extra = iam.create_policy(PolicyName="by-hand-managed", PolicyDocument=json.dumps(widened))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=names["plan"], PolicyArn=extra)
    assert ci_state(iam) != first

    assert bootstrap.main(["--env", "prod"]) == 0
    assert ci_state(iam) == first
    out = capsys.readouterr().out.splitlines()
    assert out[-3] == (
        f"prod: plan role arn:aws:iam::{ACCOUNT}:role/{names['plan']} repaired: {names['plan']}-1, detached {extra}"
    )
    assert out[-2] == (
        f"prod: deploy role arn:aws:iam::{ACCOUNT}:role/{names['deploy']} repaired: trust, removed inline by-hand"
    )


def test_an_existing_github_provider_is_reused_and_keeps_its_other_audiences(iam: Any, capsys) -> None:
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["another-team", "sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    assert bootstrap.main(["--env", "prod"]) == 0
    assert capsys.readouterr().out.splitlines()[3].endswith("already there")
    assert ci_state(iam)["provider"][1] == ["another-team", "sts.amazonaws.com"]
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1


def test_an_existing_provider_without_the_sts_audience_gets_it_added() -> None:
    """moto has no AddClientIDToOpenIDConnectProvider, so IAM's side is botocore's Stubber here."""
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = ci_policies.oidc_provider_arn(ACCOUNT)
    with Stubber(client) as stub:
        stub.add_response(
            "get_open_id_connect_provider",
            {"Url": "token.actions.githubusercontent.com", "ClientIDList": ["another-team"]},
            {"OpenIDConnectProviderArn": arn},
        )
        stub.add_response(
            "add_client_id_to_open_id_connect_provider",
            {},
            {"OpenIDConnectProviderArn": arn, "ClientID": "sts.amazonaws.com"},
        )
        assert ci_identities.ensure_oidc_provider(client, ACCOUNT) == (arn, False)
        stub.assert_no_pending_responses()


def test_with_ci_off_bootstrap_makes_no_identity(s3: Any, capsys) -> None:
    assert PROD.ci is None and DEV.ci is None, "off by default in both environments"
    assert bootstrap.main(["--env", "prod"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # the state key and bucket, the permissions boundary
    iam = boto3.client("iam", region_name=STATE.region)
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("github-")] == []

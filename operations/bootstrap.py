#!/usr/bin/env python
"""Create (or bring back in line) an environment's Terraform state bucket, once per account.

    make bootstrap ENV=prod        (.venv/bin/python -m operations.bootstrap --env prod)

Made as `cdk bootstrap` makes its staging bucket, because state is the one thing a deploy cannot
recreate: versioned (every state write is kept), encrypted (SSE-KMS with a bucket key, by default with the
state key: a customer-managed KMS key, `alias/<project>-<env>-terraform-state`, rotated yearly, whose key
policy lets the account's IAM govern it, so that s3:GetObject alone no longer reads state), public access
blocked, owner-enforced, TLS-only, superseded versions expiring after
`state.noncurrent_version_expiry_days` (the current state never expires), and a bucket policy that
denies DeleteBucket to every principal (removing that statement is a deliberate, separate act).
Idempotent: every setting is put each run, so a second run changes nothing and a drifted bucket is
repaired. The region is the environment's (`state.region`), never the shell's default. The bucket is
`state.bucket`, else `<project>-tfstate-<account>-<region>` in the credentials' account, the name app.py
writes into the backend (operations/state_bucket.py).
An environment with local state (dev: .state/ beside cdktf.out) has no bucket to make.
Every environment gets its permissions boundary, `<project>-<env>-permissions-boundary`: the managed
policy every role the stacks create carries (a deploy without it fails: run bootstrap first).
Where the environment sets `ci` (off by default), bootstrap then puts the CI identities: the GitHub
OIDC provider and the plan and deploy roles (operations/ci_identities.py), and prints the roles' ARNs.
Bad input ends with a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botocore.exceptions import ClientError

from operations import ci_policies
from operations.build_and_push import EXPECTED_ERRORS, ReleaseError, report


def bucket_policy(bucket: str) -> dict[str, Any]:
    """TLS only, and no principal may delete the bucket."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyStateBucketDeletion",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": arn,
            },
        ],
    }


def lifecycle(noncurrent_days: int) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ID": "expire-noncurrent-state-versions",
                "Status": "Enabled",
                "Filter": {},
                "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
            },
            {
                "ID": "abort-incomplete-multipart-uploads",
                "Status": "Enabled",
                "Filter": {},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
        ]
    }


def ensure_bucket(s3: Any, bucket: str, region: str, account: str) -> bool:
    """Create the bucket unless this account already owns it; True when created. S3 answers 403 to
    ExpectedBucketOwner when another account holds the name, even one whose policy would let us in."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return False
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise ReleaseError(
                f"state bucket {bucket!r} exists but belongs to another account: choose another name "
                "(state.bucket in config/environments.py)"
            ) from None
        if status != 404:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 takes no location constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    return True


def refuse_another_environments_bucket(s3: Any, kms: Any, bucket: str, env: Any, key_arn: str) -> None:
    """A state bucket encrypts with one environment's state key, which only that environment's CI roles
    may use: two environments in one account and region would share the derived name, and the second
    bootstrap would take the bucket's key from the first (its CI then fails, or its state is written
    under the other's key). Refused in one line naming the setting that separates them."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        return  # no default encryption yet: configure_bucket sets this environment's
    current = next((r["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in rules), None)
    if not current or current == key_arn:
        return
    prefix, suffix = "alias/", "-terraform-state"
    try:
        aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=current)["Aliases"]]
    except ClientError:
        return  # a key this account cannot describe is not another environment's state key
    others = [
        a for a in aliases if a.startswith(prefix) and a.endswith(suffix) and a != ci_policies.state_key_alias(env)
    ]
    if others:
        owner = others[0].removeprefix(prefix).removesuffix(suffix)
        raise ReleaseError(
            f"state bucket {bucket!r} holds {owner}'s state, encrypted with its key ({others[0]}): give "
            f"{env.name} its own bucket (state.bucket in config/environments.py) or its own account"
        )


def ensure_state_key(kms: Any, env: Any, account: str, partition: str = "aws") -> tuple[str, bool]:
    """The environment's state key, found by its alias or created; its policy and rotation put back each run.
    (key ARN, created)."""
    alias = ci_policies.state_key_alias(env)
    policy = json.dumps(ci_policies.state_key_policy(account, partition))
    try:
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]
        created = False
    except kms.exceptions.NotFoundException:
        tags = [{"TagKey": k, "TagValue": v} for k, v in {**env.all_tags, "ManagedBy": "make bootstrap"}.items()]
        key = kms.create_key(
            Description=f"Terraform state of {env.resource_prefix} (make bootstrap)",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Policy=policy,
            Tags=tags,
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        created = True
    if key.get("KeyState", "Enabled") != "Enabled":
        raise ReleaseError(
            f"state key {alias} ({key['Arn']}) is {key['KeyState']}: allowed Enabled (cancel its deletion or "
            "enable it in KMS, then run bootstrap again)"
        )
    if not created:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    return str(key["Arn"]), created


def configure_bucket(s3: Any, bucket: str, noncurrent_days: int, key_arn: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy(bucket)))
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle(noncurrent_days))


def bootstrap(environment: str, s3: Any = None, iam: Any = None, sts: Any = None, kms: Any = None) -> str:
    """Make the environment's state key and bucket (where its state is in S3), its permissions boundary and
    its CI identities (where set); a line for each."""
    import boto3

    from config.environments import get_environment
    from config.schema import S3StateBackend
    from contract.validation import ConfigError

    try:
        env = get_environment(environment)
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None
    from operations.ci_identities import ensure_ci_identities, ensure_permissions_boundary

    state = env.state
    region = state.region if isinstance(state, S3StateBackend) else env.region
    sts = boto3.client("sts", region_name=region) if sts is None else sts
    identity = sts.get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    key_arn = ""
    if isinstance(state, S3StateBackend):
        kms = boto3.client("kms", region_name=state.region) if kms is None else kms
        key_arn, key_created = ensure_state_key(kms, env, identity["Account"], partition)
        s3 = boto3.client("s3", region_name=state.region) if s3 is None else s3
        bucket = env.state_bucket(identity["Account"])  # state.bucket, else <project>-tfstate-<account>-<region>
        created = ensure_bucket(s3, bucket, state.region, identity["Account"])
        if not created:
            refuse_another_environments_bucket(s3, kms, bucket, env, key_arn)
        configure_bucket(s3, bucket, state.noncurrent_version_expiry_days, key_arn)
        verb = "created" if created else "already there; settings re-applied"
        lines = [
            f"{environment}: state key {ci_policies.state_key_alias(env)} {key_arn} "
            f"{'created' if key_created else 'already there'} (customer-managed, rotated yearly)",
            f"{environment}: state bucket s3://{bucket} in {state.region} {verb} (versioned, SSE-KMS with "
            f"the state key, public access blocked, TLS-only, deletion denied, noncurrent versions expire after "
            f"{state.noncurrent_version_expiry_days} days)",
        ]
    else:
        lines = [f"{environment}: local state (.state/ beside cdktf.out): no state bucket to make"]
    iam = boto3.client("iam", region_name=region) if iam is None else iam
    lines.append(ensure_permissions_boundary(env, iam, identity["Account"], partition))
    if env.ci is not None:
        lines += ensure_ci_identities(env, iam, identity["Account"], partition, state_key_arn=key_arn)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="operations.bootstrap", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    args = parser.parse_args(argv)
    try:
        print(bootstrap(args.env))
        return 0
    except EXPECTED_ERRORS as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())

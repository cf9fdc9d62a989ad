"""A private S3 bucket with the protections every bucket of ours needs.

Encryption, all four public-access blocks, bucket-owner-enforced ownership,
a TLS-only bucket policy, lifecycle rules and optional CORS and versioning.
Access is given with `grant_read` / `grant_read_write` on a key prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_cors_configuration import (
    S3BucketCorsConfiguration,
    S3BucketCorsConfigurationCorsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification, S3BucketNotificationQueue
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from infra_constructs import perms
from infra_constructs.service_role import Condition, Grantable


@dataclass(frozen=True, kw_only=True)
class SecureBucketProps:
    name_prefix: str
    """Bucket name prefix; AWS appends a unique suffix (bucket names are global)."""
    versioned: bool = False
    """Keep object versions; left out: unversioned."""
    expire_prefix: str | None = None
    """Delete current objects under this prefix after `expire_after_days`; left out: never."""
    expire_after_days: int | None = None
    """Age in days at which objects under `expire_prefix` are deleted; left out: never."""
    noncurrent_expiry_days: int | None = None
    """Delete noncurrent versions after N days (versioned buckets); left out: kept."""
    abort_incomplete_multipart_days: int
    """Abort multipart uploads left incomplete for N days."""
    cors_allowed_origins: tuple[str, ...] = ()
    """Browser origins allowed by CORS; left out: no CORS configuration."""
    cors_allowed_methods: tuple[str, ...] = ("GET",)
    """Methods CORS allows from those origins; left out: GET (downloads)."""
    force_destroy: bool
    """Let destroy delete a non-empty bucket (loses data)."""
    kms_key_arn: str | None = None
    """Encrypt objects with this customer-managed key (SSE-KMS, bucket keys on); left out: SSE-S3."""


LIFECYCLE_WAIT = "15m"
"""How long terraform waits for a bucket's lifecycle rules to read back steadily (the provider's default: 3m)."""


class SecureBucket(Construct):
    def __init__(self, scope: Construct, id_: str, props: SecureBucketProps) -> None:
        super().__init__(scope, id_)
        self.bucket = S3Bucket(self, "bucket", bucket_prefix=props.name_prefix, force_destroy=props.force_destroy)
        self.name: str = self.bucket.bucket
        self.arn: str = self.bucket.arn
        bucket_id = self.bucket.id

        public_access = S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms" if props.kms_key_arn else "AES256",
                            kms_master_key_id=props.kms_key_arn,
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        tls_only = DataAwsIamPolicyDocument(
            self,
            "tls-only-policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    actions=["s3:*"],  # a Deny: every action over plain HTTP is refused
                    principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="*", identifiers=["*"])],
                    resources=[self.bucket.arn, f"{self.bucket.arn}/*"],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="Bool", variable="aws:SecureTransport", values=["false"]
                        )
                    ],
                )
            ],
        )
        # The policy goes in after the public-access block, as AWS evaluates it against the block.
        S3BucketPolicy(self, "policy", bucket=bucket_id, policy=tls_only.json, depends_on=[public_access])

        versioning = None
        if props.versioned:
            versioning = S3BucketVersioningA(
                self,
                "versioning",
                bucket=bucket_id,
                versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
            )

        rules = [
            _lifecycle_rule(
                "abort-incomplete-multipart-uploads",
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=props.abort_incomplete_multipart_days
                    )
                ],
            )
        ]
        if props.expire_after_days is not None:
            rules.append(
                _lifecycle_rule(
                    f"expire-{(props.expire_prefix or 'objects').strip('/').replace('/', '-')}",
                    prefix=props.expire_prefix or "",
                    expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=props.expire_after_days)],
                )
            )
        if props.noncurrent_expiry_days is not None:
            rules.append(
                _lifecycle_rule(
                    "expire-noncurrent-versions",
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=props.noncurrent_expiry_days
                        )
                    ],
                )
            )
        lifecycle = S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bucket_id,
            rule=rules,
            depends_on=[versioning] if versioning else None,
        )
        # After writing the rules the provider (5.100.0) waits for 10 identical reads 5 s apart, within 3
        # minutes by default: 10 reads of 13 s or more each (a busy endpoint; a slow region, says the
        # provider's own comment) time out with the rules already in place ("last state: 'true'"). The
        # bindings carry no timeouts block for this resource; the provider's schema has one.
        lifecycle.add_override("timeouts", {"create": LIFECYCLE_WAIT, "update": LIFECYCLE_WAIT})

        if props.cors_allowed_origins:
            S3BucketCorsConfiguration(
                self,
                "cors",
                bucket=bucket_id,
                cors_rule=[
                    S3BucketCorsConfigurationCorsRule(
                        allowed_origins=list(props.cors_allowed_origins),
                        allowed_methods=list(props.cors_allowed_methods),
                        allowed_headers=["*"],
                        expose_headers=["ETag"],
                        max_age_seconds=3000,
                    )
                ],
            )

    def notify_queue(self, queue_arn: str, *, prefix: str, after: TerraformResource) -> S3BucketNotification:
        """Send `ObjectCreated` events under `prefix` to the queue (once per bucket: S3 keeps one configuration).

        `after` is the queue policy that lets this bucket send: S3 tests it when the configuration is set.
        """
        return S3BucketNotification(
            self,
            "notifications",
            bucket=self.bucket.id,
            queue=[S3BucketNotificationQueue(queue_arn=queue_arn, events=["s3:ObjectCreated:*"], filter_prefix=prefix)],
            depends_on=[after],
        )

    def grant_read(self, grantee: Grantable, name: str, prefix: str) -> None:
        """Let `grantee` list and read objects under `prefix` only."""
        grant_on_prefix(grantee, name, self.arn, prefix, perms.S3_OBJECT_READ)

    def grant_read_write(self, grantee: Grantable, name: str, prefix: str) -> None:
        """Let `grantee` list, read and write objects under `prefix` only."""
        grant_on_prefix(grantee, name, self.arn, prefix, perms.S3_OBJECT_READ + perms.S3_OBJECT_WRITE)


def grant_on_keys(grantee: Grantable, name: str, bucket_arn: str, key_pattern: str, actions: tuple[str, ...]) -> None:
    """Object actions on the keys matching `key_pattern` (IAM wildcards), nothing else."""
    grantee.grant(name, actions, [f"{bucket_arn}/{key_pattern}"])


def grant_list(grantee: Grantable, name: str, bucket_arn: str, prefix: str) -> None:
    """ListBucket limited to `prefix`: a missing object then reads as 404 rather than 403."""
    grantee.grant(
        name,
        perms.S3_BUCKET_LIST,
        [bucket_arn],
        [Condition(test="StringLike", variable="s3:prefix", values=(f"{prefix}*",))],
    )


def grant_on_prefix(
    grantee: Grantable, name: str, bucket_arn: str, prefix: str, object_actions: tuple[str, ...]
) -> None:
    """Object actions on `<bucket>/<prefix>*` plus ListBucket limited to that prefix.

    Also used for the model bucket, which this project does not create.
    """
    grantee.grant(f"{name}-objects", object_actions, [f"{bucket_arn}/{prefix}*"])
    grantee.grant(
        f"{name}-list",
        perms.S3_BUCKET_LIST,
        [bucket_arn],
        [Condition(test="StringLike", variable="s3:prefix", values=(f"{prefix}*",))],
    )


def _lifecycle_rule(rule_id: str, *, prefix: str = "", **action: Any) -> S3BucketLifecycleConfigurationRule:
    """An enabled lifecycle rule on `prefix` ("" = the whole bucket) with one action."""
    return S3BucketLifecycleConfigurationRule(
        id=rule_id,
        status="Enabled",
        filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
        **action,
    )

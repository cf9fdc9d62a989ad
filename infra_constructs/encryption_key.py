"""A customer-managed KMS key for one environment's data, with the key policy its services need.

The key encrypts the buckets, log groups, queues, function environments and the image repository.
Its policy lets the account's IAM policies govern it (roles then get only the uses they are granted),
CloudWatch Logs use it for this environment's log groups (the logs encryption context; the API's
execution log group by its exact name, added once the API exists), S3 use it to
send this environment's buckets' event notifications to encrypted queues and CloudWatch alarms publish
to an encrypted topic (both only for this account and this environment's resources: aws:SourceAccount
and aws:SourceArn, so no other account's bucket or alarm can use AWS as a confused deputy). Rotation is on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from infra_constructs import perms
from infra_constructs.service_role import Condition, Grantable

KEY_ADMINISTRATION = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:RetireGrant",
)


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyProps:
    alias: str
    """alias/<name>, without the alias/ prefix."""
    region: str
    """The region whose CloudWatch Logs may use the key."""
    resource_prefix: str
    """The names of the log groups, buckets and alarms that use the key start with it (<project>-<env>)."""
    deletion_window_days: int
    """Days between scheduling deletion and the key's end (7-30): the environment's
    `encryption.key_deletion_window_days`, which holds the default."""
    for_bucket_notifications: bool = False
    """Let S3 use the key to deliver event notifications to queues it encrypts; left out: no."""
    for_alarm_notifications: bool = False
    """Let CloudWatch alarms publish to SNS topics it encrypts; left out: no."""


class EncryptionKey(Construct):
    def __init__(self, scope: Construct, id_: str, props: EncryptionKeyProps) -> None:
        super().__init__(scope, id_)
        account = DataAwsCallerIdentity(self, "account").account_id
        self._logs_arn_prefix = f"arn:aws:logs:{props.region}:{account}:log-group:"
        self._log_group_arns = [self._logs_arn_prefix + name for name in log_group_patterns(props.resource_prefix)]
        statements: list[dict[str, Any]] = [
            {
                "Sid": "AccountAdministersAndIamPoliciesGrantUse",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": list(KEY_ADMINISTRATION),
                "Resource": "*",  # in a key policy, "*" is this key
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{props.region}.amazonaws.com"},
                "Action": list(perms.KMS_LOGS),
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": self._log_group_arns}},
            },
        ]
        if props.for_bucket_notifications:
            statements.append(
                {
                    "Sid": "S3SendsThisAccountsNotificationsToEncryptedQueues",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": list(perms.KMS_USE),
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{props.resource_prefix}-*"},
                    },
                }
            )
        if props.for_alarm_notifications:
            statements.append(
                {
                    "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": list(perms.KMS_USE),
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:cloudwatch:{props.region}:{account}:alarm:"
                            f"{props.resource_prefix}-*"
                        },
                    },
                }
            )
        self._statements = statements
        self.key = KmsKey(
            self,
            "key",
            description=f"{props.alias}: buckets, logs, queues, functions",
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=self._policy(),
        )
        KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=self.key.key_id)
        self.arn: str = self.key.arn

    def _policy(self) -> str:
        # A key policy, not an IAM policy: written as the JSON KMS stores.
        return json.dumps({"Version": "2012-10-17", "Statement": self._statements})

    def allow_log_group(self, name: str) -> None:
        """Let CloudWatch Logs use the key for one more log group, by its exact name: one whose name
        carries no environment prefix (API Gateway's execution logs are named by the API's random id), so
        the key policy names that API's group alone, never every API's. The key then waits for the
        resource the name comes from, and the log group, which uses the key, for the key."""
        self._log_group_arns.append(self._logs_arn_prefix + name)
        self.key.policy = self._policy()

    def grant_use(
        self, grantee: Grantable, name: str = "encryption-key", *, via: tuple[str, ...] = ("s3",), region: str
    ) -> None:
        """Let `grantee` encrypt and decrypt with the key, only through the named services (S3 objects,
        SQS messages, Lambda's environment): kms:ViaService, so the role cannot use the key directly."""
        grantee.grant(
            name,
            perms.KMS_USE,
            [self.arn],
            [
                Condition(
                    test="StringEquals",
                    variable="kms:ViaService",
                    values=tuple(f"{s}.{region}.amazonaws.com" for s in via),
                )
            ],
        )


def log_group_patterns(resource_prefix: str) -> tuple[str, ...]:
    """The names of the log groups an environment's stacks create (functions, API access logs, WAF), as
    patterns: the key is made before them, so it cannot name their ARNs. API Gateway's execution logs are
    named by the API's id, not the environment: `EncryptionKey.allow_log_group` names that one group."""
    return (
        f"/aws/lambda/{resource_prefix}-*",
        f"/aws/apigateway/{resource_prefix}-*",
        f"aws-waf-logs-{resource_prefix}-*",
    )

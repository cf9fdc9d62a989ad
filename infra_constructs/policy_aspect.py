"""Project policies checked on every synthesized resource (a cdktf Aspect).

Rather than `if`s scattered through constructs, one aspect visits every node
of a stack at synth time and records what breaks our rules; synthesis stops
with the list. The rules:
- every S3 bucket is a SecureBucket (encryption, public-access block, TLS-only policy);
- every log group has a retention period;
- every Lambda function has active X-Ray tracing;
- every inline IAM policy comes from a ServiceRole grant (no hand-written IAM JSON).
"""

from __future__ import annotations

import jsii
from cdktf import IAspect
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import IConstruct

from infra_constructs.secure_bucket import SecureBucket
from infra_constructs.service_role import ServiceRole


class PolicyViolationError(Exception):
    """Synthesis found resources that break the project's policies."""


@jsii.implements(IAspect)
class ProjectPolicies:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.visited = 0
        """Nodes checked so far (a test's proof that the aspect ran)."""

    def visit(self, node: IConstruct) -> None:
        self.visited += 1
        path = node.node.path
        parent = node.node.scope
        if isinstance(node, S3Bucket) and not isinstance(parent, SecureBucket):
            self.violations.append(f"{path}: S3 buckets must be created through SecureBucket")
        elif isinstance(node, CloudwatchLogGroup) and node.retention_in_days_input is None:
            self.violations.append(f"{path}: log group has no retention_in_days")
        elif isinstance(node, LambdaFunction):
            tracing = node.tracing_config_input
            if tracing is None or getattr(tracing, "mode", None) != "Active":
                self.violations.append(f"{path}: Lambda function must have tracing_config mode Active")
        elif isinstance(node, IamRolePolicy) and not isinstance(parent, ServiceRole):
            self.violations.append(f"{path}: inline IAM policies must come from ServiceRole.grant")

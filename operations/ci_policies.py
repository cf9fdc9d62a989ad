"""The CI identities' IAM documents, as pure functions of an environment and an account (JSON dicts):
`make bootstrap` puts them, and the IAM gate (tests/security/test_ci_iam.py) reads them without AWS.

Two roles, both assumed only with a GitHub Actions OIDC token of one repository (`aud` and an exact
`sub`, StringEquals, no wildcards; AWS can condition on no other GitHub claim):
- the plan role, `sub` = repo:<o>/<n>:pull_request: Describe/Get/List on the resources the stacks make
  (by the environment's name prefixes), read of the two state objects (the plan runs with -lock=false),
  and the state key (bootstrap's customer-managed KMS key, `state_key_alias`) only through S3, only in
  this account and only for the state bucket (`kms:EncryptionContext:aws:s3:arn`);
- the deploy role, `sub` = repo:<o>/<n>:environment:<env> (deploy.yml's job for the environment; GitHub's
  environment lets only the deploy branch deploy, and prod's waits for its reviewers): what `make deploy`
  needs (the registry stack, the ECR push to the environment's repository, the inference stack, the release
  pointer), by resource ARN wherever the service scopes by resource (by the environment's tags where it
  cannot: KMS keys, API Gateway), IAM writes and PassRole only on the stacks' own role prefix, and a role
  created or changed only with the environment's permissions boundary attached; the state key only as the plan
  role uses it (through S3 for the state bucket), and no write to that key or its alias.

The permissions boundary (`permissions_boundary`, `<project>-<env>-permissions-boundary`, put by
bootstrap) is the most any role of the stacks can do: the functions' data, queues, keys, logs, traces
and image, and no IAM, Organizations, account or STS role-assumption at all. Every IAM action that
AWS's service authorization reference lets a policy condition on `iam:PermissionsBoundary` is allowed
only where that key equals the boundary (CreateRole, PutRolePolicy, DeleteRolePolicy, AttachRolePolicy,
DetachRolePolicy, PutRolePermissionsBoundary); DeleteRolePermissionsBoundary, which would lift it, is
denied. The key exists on no other role action, so each other one is safe by other means, with its reason
in ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY; UpdateAssumeRolePolicy, which could hand a role to another
account, is denied outright (the stacks set a role's trust when they create it).

The roles' own names lie outside every prefix they may write (`github-<project>-<env>-...`), and a Deny
names them and the boundary policy, so the deploy role can neither edit itself nor its limit.
Resource "*" appears only for the actions in UNSCOPABLE_ACTIONS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from config.schema import CiIdentities, EnvironmentConfig, S3StateBackend

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
GITHUB_THUMBPRINTS = ("6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd")
"""GitHub's published intermediate CA thumbprints; IAM now trusts GitHub's certificate through its own CA
library and ignores them, but an account's API may still ask for one."""
AWS_MANAGED_APIGW_LOGS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
"""The one managed policy the stacks attach (the API Gateway account's logging role)."""

UNSCOPABLE_ACTIONS = {
    "ecr:GetAuthorizationToken": "ECR's registry login token has no resource type (service authorization reference)",
    "kms:CreateKey": "a key that does not exist yet has no ARN; conditioned on the request's Environment tag",
    "kms:ListAliases": "ListAliases has no resource type; it lists names, not key material",
    "logs:DescribeResourcePolicies": "CloudWatch Logs resource policies have no resource type",
    "logs:PutResourcePolicy": "CloudWatch Logs resource policies have no resource type (WAF's log delivery)",
    "logs:DeleteResourcePolicy": "CloudWatch Logs resource policies have no resource type",
    "logs:CreateLogDelivery": "log deliveries (WAF logging) have no resource type",
    "logs:GetLogDelivery": "log deliveries (WAF logging) have no resource type",
    "logs:UpdateLogDelivery": "log deliveries (WAF logging) have no resource type",
    "logs:DeleteLogDelivery": "log deliveries (WAF logging) have no resource type",
    "logs:ListLogDeliveries": "log deliveries (WAF logging) have no resource type",
    "lambda:CreateEventSourceMapping": "a mapping not yet made has no ARN; conditioned on lambda:FunctionArn",
    "xray:PutTraceSegments": "X-Ray has no resource types (the boundary lets the functions send traces)",
    "xray:PutTelemetryRecords": "X-Ray has no resource types (the boundary lets the functions send traces)",
}
"""The actions the CI roles may allow on Resource "*", each with the reason (held by the IAM gate)."""

BOUNDARY_CONDITIONED_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
"""The deploy role's role writes that AWS evaluates `iam:PermissionsBoundary` for (the service
authorization reference; tests/security/test_ci_iam.py checks the list against parliament's copy of it):
each is allowed only where the key equals the environment's boundary. For CreateRole and
PutRolePermissionsBoundary the key is the boundary in the request; for the policy writes, the role's own,
so a role without it (made by hand, or before the boundary existed) gets no policy from CI."""
ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY = {
    "iam:DeleteRole": "deleting a role grants nothing; IAM refuses while the role still has policies, whose "
    "removal is boundary-conditioned",
    "iam:UpdateRole": "changes only a role's description and maximum session length, never what it may do",
    "iam:TagRole": "no policy here conditions on a role's tags, so a tag grants nothing",
    "iam:UntagRole": "no policy here conditions on a role's tags, so removing one takes nothing away",
    "iam:ListInstanceProfilesForRole": "a read terraform makes before deleting a role",
    "iam:PassRole": "only of the stacks' roles (each carries the boundary) and only to Lambda and API Gateway "
    "(iam:PassedToService)",
}
"""The role actions the deploy role may use that AWS offers no `iam:PermissionsBoundary` key for, each with
why it cannot widen a role. iam:UpdateAssumeRolePolicy has no such key either and is denied: a trust
change is the one role write without the key that could give a role away."""
DENIED_ROLE_ACTIONS = ("iam:UpdateAssumeRolePolicy", "iam:DeleteRolePermissionsBoundary")
"""Denied on every role: a trust rewrite (the stacks set trust at creation) and lifting a boundary."""
POLICY_WRITES = (
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
ROLE_WRITES = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
)

SERVICES_PASSED_ROLES = ("lambda.amazonaws.com", "apigateway.amazonaws.com")
"""The services the stacks hand their roles to: the functions and the API Gateway account's logging role."""


def role_names(env: EnvironmentConfig) -> dict[str, str]:
    """The CI roles' names: outside `<project>-<env>-*`, the only role prefix the deploy role may write."""
    return {"plan": f"github-{env.resource_prefix}-plan", "deploy": f"github-{env.resource_prefix}-deploy"}


def oidc_provider_arn(account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"


def plan_subject(ci: CiIdentities) -> str:
    """GitHub's `sub` for a workflow run by a pull_request event (any branch; forks get no token)."""
    return f"repo:{ci.repository}:pull_request"


def deploy_subject(ci: CiIdentities, env: EnvironmentConfig) -> str:
    """GitHub's `sub` for deploy.yml's job of this environment, which names its GitHub environment (the prod
    job waits there for its reviewers' approval). It names no branch: the trust pins the branch and the
    workflow itself (`deploy_claims`), beside the environment's deployment branches on GitHub's side."""
    return f"repo:{ci.repository}:environment:{env.name}"


DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"
"""The one workflow file whose jobs may assume the deploy role."""


def deploy_claims(ci: CiIdentities) -> dict[str, str]:
    """GitHub's claims the deploy role's trust pins besides `sub` (AWS STS tests GitHub's own claims since
    January 2026): the job's workflow is deploy.yml as committed on the deploy branch, and the run's ref is
    that branch. `sub` alone admits any workflow of any branch that names the environment (a repository
    setting is all that stands between them), and on the deploy branch one started by `issue_comment`,
    `workflow_run` or `pull_request_target` may check out untrusted code. The plan role pins no workflow:
    a pull request's author writes its workflow files."""
    branch = f"refs/heads/{ci.deploy_branch}"
    return {"job_workflow_ref": f"{ci.repository}/{DEPLOY_WORKFLOW}@{branch}", "ref": branch}


def trust_policy(provider_arn: str, subject: str, claims: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Only a token from the GitHub provider, for STS, with exactly this subject (and these claims)."""
    pinned = {f"{GITHUB_OIDC_HOST}:{claim}": value for claim, value in (claims or {}).items()}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                        **pinned,
                    }
                },
            }
        ],
    }


def state_key_alias(env: EnvironmentConfig) -> str:
    """The alias of the customer-managed KMS key bootstrap makes for the state bucket's default encryption."""
    return f"alias/{env.resource_prefix}-terraform-state"


def state_key_policy(account: str, partition: str = "aws") -> dict[str, Any]:
    """The state key's key policy: the account's IAM governs it (KMS's default key policy), so who may use
    the key is said by identity policies: the CI roles' (below) and the operators' own."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TheAccountsIamGovernsTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


class _Arns:
    """The ARNs the environment's stacks create, by their name prefixes."""

    def __init__(self, env: EnvironmentConfig, account: str, partition: str, state_key_arn: str) -> None:
        state = env.state
        if not isinstance(state, S3StateBackend):
            raise ValueError(f"{env.name}: CI identities need an S3 state backend")
        if not state_key_arn.startswith(f"arn:{partition}:kms:{state.region}:{account}:key/"):
            raise ValueError(
                f"state_key_arn={state_key_arn!r} is invalid: allowed a key ARN of {account} in {state.region}"
            )
        self.state = state
        p, r, a, prefix = partition, env.region, account, env.resource_prefix
        self.partition, self.account, self.region = p, a, r
        self.state_bucket = f"arn:{p}:s3:::{env.state_bucket(a)}"
        self.state_objects = [
            f"{self.state_bucket}/{state.key_prefix}{stack}.tfstate"
            for stack in (env.stack_name, env.registry_stack_name)
        ]
        self.state_locks = [f"{key}.tflock" for key in self.state_objects]
        self.state_key = state_key_arn
        self.state_alias = f"arn:{p}:kms:{state.region}:{a}:{state_key_alias(env)}"
        self.buckets = [f"arn:{p}:s3:::{prefix}-input-*", f"arn:{p}:s3:::{prefix}-output-*"]
        self.repository = f"arn:{p}:ecr:{r}:{a}:repository/{env.repository_name}"
        # SSM parameter ARNs drop the name's leading '/'; GetParametersByPath is authorized on the path.
        self.release_path = f"arn:{p}:ssm:{r}:{a}:parameter{env.release_path}"
        self.release_parameter = f"arn:{p}:ssm:{r}:{a}:parameter{env.release_parameter}"
        self.keys = f"arn:{p}:kms:{r}:{a}:key/*"
        self.aliases = f"arn:{p}:kms:{r}:{a}:alias/{prefix}-*"
        self.roles = f"arn:{p}:iam::{a}:role/{prefix}-*"
        self.all_roles = f"arn:{p}:iam::{a}:role/*"
        self.boundary = permissions_boundary_arn(env, a, p)
        self.ci_roles = f"arn:{p}:iam::{a}:role/github-{prefix}-*"
        self.ci_policies = f"arn:{p}:iam::{a}:policy/github-{prefix}-*"
        self.functions = f"arn:{p}:lambda:{r}:{a}:function:{prefix}-*"
        self.mappings = f"arn:{p}:lambda:{r}:{a}:event-source-mapping:*"
        self.queues = f"arn:{p}:sqs:{r}:{a}:{prefix}-*"
        self.topics = f"arn:{p}:sns:{r}:{a}:{prefix}-*"
        logs = f"arn:{p}:logs:{r}:{a}:log-group:"
        self.log_groups = [
            f"{logs}{name}*"
            for name in (
                f"/aws/lambda/{prefix}-",
                f"/aws/apigateway/{prefix}-",
                f"aws-waf-logs-{prefix}-",
                "API-Gateway-Execution-Logs_",  # named by the API's random id: no environment prefix exists
            )
        ]
        self.all_log_groups = f"{logs}*"
        self.alarms = f"arn:{p}:cloudwatch:{r}:{a}:alarm:{prefix}-*"
        self.dashboard = f"arn:{p}:cloudwatch::{a}:dashboard/{prefix}"
        self.web_acls = f"arn:{p}:wafv2:{r}:{a}:regional/webacl/{prefix}-*/*"
        self.managed_rule_sets = f"arn:{p}:wafv2:{r}:{a}:regional/managedruleset/*/*"
        gateway = f"arn:{p}:apigateway:{r}::"
        # API Gateway names its resources by random ids: paths, then the environment's tags, are the finest
        # scope it offers. No API key: keys live outside Terraform (operations/keys.py).
        self.gateway_collections = [f"{gateway}/{path}" for path in ("restapis", "usageplans", "domainnames")]
        self.gateway_items = [f"{gateway}/{path}/*" for path in ("restapis", "usageplans", "domainnames")]
        self.gateway_account = f"{gateway}/account"
        self.gateway_tags = f"{gateway}/tags/*"
        self.gateway = [*self.gateway_collections, *self.gateway_items, self.gateway_account, self.gateway_tags]
        self.gateway_secrets = [
            f"{gateway}/{path}" for path in ("apikeys", "apikeys/*", "usageplans/*/keys", "usageplans/*/keys/*")
        ]
        """What returns or changes API key values: a key, or a usage plan's keys (GetUsagePlanKeys has `value`)."""
        self.stages = f"{gateway}/restapis/*/stages/*"


def _statement(sid: str, actions: list[str], resources: list[str] | str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _tagged(env: EnvironmentConfig) -> dict[str, Any]:
    """KMS key ids are random: key actions hold only for the environment's keys (tagged by default_tags)."""
    return {"StringEquals": {"aws:ResourceTag/Environment": env.name, "aws:ResourceTag/Project": env.project}}


def _request_tagged(env: EnvironmentConfig) -> dict[str, Any]:
    """A create that carries the environment's tags (the provider's default_tags send them)."""
    return {"StringEquals": {"aws:RequestTag/Environment": env.name, "aws:RequestTag/Project": env.project}}


def _deny(sid: str, actions: list[str], resources: list[str] | str, **condition: Any) -> dict[str, Any]:
    return {**_statement(sid, actions, resources, **condition), "Effect": "Deny"}


def permissions_boundary_arn(env: EnvironmentConfig, account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:policy/{env.permissions_boundary_name}"


def _state_key_via_s3(arns: _Arns, actions: list[str]) -> dict[str, Any]:
    """The state key, only as S3 uses it for the state bucket. With a bucket key (bootstrap enables it) S3's
    encryption context is the bucket's ARN, not the object's; s3:GetObject/PutObject limit the objects."""
    return _statement(
        "StateKeyThroughS3Only",
        actions,
        arns.state_key,
        StringEquals={
            "kms:ViaService": f"s3.{arns.state.region}.amazonaws.com",
            "kms:CallerAccount": arns.account,
            "kms:EncryptionContext:aws:s3:arn": arns.state_bucket,
        },
    )


def _in_this_account(arns: _Arns) -> dict[str, Any]:
    """S3 names are global and a derived state bucket's name is predictable: these hold only for buckets of
    this account, so a same-named bucket another account made first is never read or written."""
    return {"StringEquals": {"s3:ResourceAccount": arns.account}}


def _state_listing(arns: _Arns) -> dict[str, Any]:
    return _statement(
        "StateBucketListing",
        ["s3:ListBucket"],
        arns.state_bucket,
        StringLike={"s3:prefix": [f"{arns.state.key_prefix}*", "env:/*"]},  # env:/ is where workspaces would live
        **_in_this_account(arns),
    )


S3_BUCKET_READ = [
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketWebsite",
    "s3:GetBucketVersioning",
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketLogging",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketNotification",
]
"""What terraform reads of a bucket and its settings; bucket-level only: no object is read."""
S3_BUCKET_WRITE = [
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketCORS",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketNotification",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketTagging",
]
ECR_READ = [
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
]
ECR_WRITE = [
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:SetRepositoryPolicy",  # Lambda asks its caller to let it pull a container image
    "ecr:TagResource",
    "ecr:UntagResource",
    # the image push (operations/build_and_push.py through docker) and Lambda's pull on CreateFunction
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]
KMS_READ = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
KMS_DATA_USE = ("kms:Decrypt", "kms:GenerateDataKey")
"""Using a key's material (through S3, SQS, logs): not administering it."""
KMS_WRITE = [
    "kms:PutKeyPolicy",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    # services encrypting with the key on the deployer's behalf (ECR, Lambda environment, SQS, logs)
    "kms:CreateGrant",
    "kms:Encrypt",
    *KMS_DATA_USE,
]
STATE_KEY_ADMINISTRATION = [*(action for action in KMS_WRITE if action not in KMS_DATA_USE), "kms:DisableKey"]
"""What the deploy role is denied on the state key (its tags are the environment's, which KeysWrite keys on):
every KMS write it may do to its own keys, and disabling; bootstrap alone administers it. Using the key
(decrypt, data keys) stays possible through S3 only."""
IAM_READ = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"]
LAMBDA_READ = [
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetFunctionConcurrency",
    "lambda:GetPolicy",
    "lambda:ListVersionsByFunction",
    "lambda:ListTags",
]
LAMBDA_WRITE = [
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:TagResource",
    "lambda:UntagResource",
]
SQS_READ = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"]
SQS_WRITE = ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"]
SNS_READ = [
    "sns:GetTopicAttributes",
    "sns:GetSubscriptionAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
]
SNS_WRITE = [
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:TagResource",
    "sns:UntagResource",
]
LOGS_READ = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
LOGS_WRITE = [
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:TagLogGroup",
    "logs:UntagLogGroup",
]
CLOUDWATCH_ALARM_READ = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
CLOUDWATCH_ALARM_WRITE = [
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
]
WAF_READ = ["wafv2:GetWebACL", "wafv2:GetLoggingConfiguration", "wafv2:ListTagsForResource"]
WAF_WRITE = [
    "wafv2:CreateWebACL",
    "wafv2:UpdateWebACL",
    "wafv2:DeleteWebACL",
    "wafv2:TagResource",
    "wafv2:UntagResource",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "wafv2:PutLoggingConfiguration",
    "wafv2:DeleteLoggingConfiguration",
]


def plan_permissions(
    env: EnvironmentConfig, account: str, partition: str = "aws", *, state_key_arn: str
) -> dict[str, Any]:
    """Read-only: enough for `make diff ENV=<env>` (terraform plan -lock=false of both stacks)."""
    arns = _Arns(env, account, partition, state_key_arn)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("StateObjectsRead", ["s3:GetObject"], arns.state_objects, **_in_this_account(arns)),
            _state_listing(arns),
            _state_key_via_s3(arns, ["kms:Decrypt"]),
            _statement("BucketsRead", S3_BUCKET_READ, arns.buckets),
            _statement("RepositoryRead", ECR_READ, arns.repository),
            # the release pointer the inference stack reads at plan time (operations/release_pointer.py)
            _statement(
                "ReleasePointerRead",
                ["ssm:GetParameter", "ssm:GetParametersByPath"],
                [arns.release_path, arns.release_parameter],
            ),
            _statement("KeysRead", KMS_READ, arns.keys, **_tagged(env)),
            _statement("AliasesList", ["kms:ListAliases"], "*"),
            _statement("RolesRead", IAM_READ, arns.roles),
            _statement("FunctionsRead", LAMBDA_READ, arns.functions),
            _statement("EventSourceMappingsRead", ["lambda:GetEventSourceMapping"], arns.mappings),
            _statement("QueuesRead", SQS_READ, arns.queues),
            _statement("TopicsRead", SNS_READ, arns.topics),
            _statement("LogGroupsDescribe", ["logs:DescribeLogGroups"], arns.all_log_groups),
            _statement("LogGroupsRead", LOGS_READ, arns.log_groups),
            _statement("LogResourcePoliciesRead", ["logs:DescribeResourcePolicies"], "*"),
            _statement("AlarmsRead", CLOUDWATCH_ALARM_READ, arns.alarms),
            _statement("DashboardRead", ["cloudwatch:GetDashboard"], arns.dashboard),
            _statement("WebAclRead", WAF_READ, arns.web_acls),
            _statement("WebAclAssociationRead", ["wafv2:GetWebACLForResource"], [arns.stages, arns.web_acls]),
            _statement("ApiGatewayRead", ["apigateway:GET"], arns.gateway),
            # GET under usageplans/* would include a plan's keys, with their values: no secret for a plan.
            _deny("NoApiKeyValues", ["apigateway:GET"], arns.gateway_secrets),
        ],
    }


def deploy_permissions(
    env: EnvironmentConfig, account: str, partition: str = "aws", *, state_key_arn: str
) -> dict[str, Any]:
    """What `make deploy ENV=<env>` needs: the plan role's reads, the state written under its lock, and
    every write the registry stack, the image push and the inference stack make, on their own names."""
    arns = _Arns(env, account, partition, state_key_arn)
    plan = plan_permissions(env, account, partition, state_key_arn=state_key_arn)
    reads = [s for s in plan["Statement"] if s["Sid"] != "StateObjectsRead"]
    reads = [s for s in reads if s["Sid"] != "StateKeyThroughS3Only"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "StateObjectsReadWrite", ["s3:GetObject", "s3:PutObject"], arns.state_objects, **_in_this_account(arns)
            ),
            _statement(
                "StateLocks",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                arns.state_locks,
                **_in_this_account(arns),
            ),
            _state_key_via_s3(arns, ["kms:Decrypt", "kms:GenerateDataKey"]),
            *reads,
            _statement("BucketsWrite", S3_BUCKET_WRITE, arns.buckets),
            _statement("RepositoryWriteAndPush", ECR_WRITE, arns.repository),
            _statement("ReleasePointerWrite", ["ssm:PutParameter"], arns.release_parameter),
            _statement("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
            _statement(
                "KeysCreate",
                ["kms:CreateKey"],
                "*",
                StringEquals={"aws:RequestTag/Environment": env.name, "aws:RequestTag/Project": env.project},
            ),
            _statement("KeysWrite", KMS_WRITE, arns.keys, **_tagged(env)),
            _statement("AliasesWrite", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"], arns.aliases),
            _statement(
                "StackRolesWriteOnlyWithTheBoundary",
                ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
                arns.roles,
                StringEquals={"iam:PermissionsBoundary": arns.boundary},
            ),
            _statement(
                "StackRolesAttachApiGatewayLogging",
                ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                arns.roles,
                ArnEquals={"iam:PolicyARN": AWS_MANAGED_APIGW_LOGS_POLICY.replace("arn:aws:", f"arn:{partition}:")},
                StringEquals={"iam:PermissionsBoundary": arns.boundary},
            ),
            # No iam:PermissionsBoundary key exists for these: ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY says why each is safe.
            _statement(
                "StackRolesManage",
                [a for a in ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY if a != "iam:PassRole"],
                arns.roles,
            ),
            _statement(
                "StackRolesPassToTheirServices",
                ["iam:PassRole"],
                arns.roles,
                StringEquals={"iam:PassedToService": list(SERVICES_PASSED_ROLES)},
            ),
            _statement("FunctionsWrite", LAMBDA_WRITE, arns.functions),
            _statement(
                "EventSourceMappingsCreate",
                ["lambda:CreateEventSourceMapping"],
                "*",
                ArnLike={"lambda:FunctionArn": arns.functions},
            ),
            _statement(
                "EventSourceMappingsWrite",
                ["lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"],
                arns.mappings,
                ArnLike={"lambda:FunctionArn": arns.functions},
            ),
            _statement("QueuesWrite", SQS_WRITE, arns.queues),
            _statement("TopicsWrite", SNS_WRITE, arns.topics),
            _statement("LogGroupsWrite", LOGS_WRITE, arns.log_groups),
            _statement(
                "WafLogDelivery",
                [
                    "logs:PutResourcePolicy",
                    "logs:DeleteResourcePolicy",
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                ],
                "*",
            ),
            _statement("AlarmsWrite", CLOUDWATCH_ALARM_WRITE, arns.alarms),
            _statement("DashboardWrite", ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"], arns.dashboard),
            _statement("WebAclWrite", WAF_WRITE, [arns.web_acls, arns.managed_rule_sets, arns.stages]),
            _statement("ApiGatewayCreateTagged", ["apigateway:POST"], arns.gateway_collections, **_request_tagged(env)),
            # Child resources (methods, stages, a plan's settings) carry their API's or plan's tags for IAM.
            _statement(
                "ApiGatewayWriteTagged",
                ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
                arns.gateway_items,
                **_tagged(env),
            ),
            # The account's CloudWatch role setting has no tags; PassRole limits which role it may name.
            _statement("ApiGatewayAccountLoggingRole", ["apigateway:PATCH"], arns.gateway_account),
            # Tags are ApiGatewayWriteTagged's key: only a resource that already is the environment's may be
            # (re)tagged, and only as the environment's, or tagging another team's API (or, with both
            # environments in one account, prod's from dev's role) would hand it to this role.
            _statement(
                "ApiGatewayTagsKeepTheEnvironments",
                ["apigateway:PUT"],
                arns.gateway_tags,
                StringEquals={**_request_tagged(env)["StringEquals"], **_tagged(env)["StringEquals"]},
            ),
            _statement(
                "ApiGatewayUntagOthers",
                ["apigateway:DELETE"],
                arns.gateway_tags,
                **_tagged(env),
                **{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["Environment", "Project"]}},
            ),
            # WAF's AssociateWebACL and DisassociateWebACL on a REST API stage also need apigateway:SetWebACL
            # on it: WebAclWrite names every stage, this holds only for the environment's.
            _statement("ApiGatewayWebAcl", ["apigateway:SetWebACL"], arns.stages, **_tagged(env)),
            _deny(
                "NoApiKeys",
                ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
                arns.gateway_secrets,
            ),
            _deny("NoTrustRewriteNoBoundaryRemoval", list(DENIED_ROLE_ACTIONS), arns.all_roles),
            _deny("NoWriteToTheBoundaryOrTheCiPolicies", list(POLICY_WRITES), [arns.boundary, arns.ci_policies]),
            _deny("NoWriteToTheCiRoles", list(ROLE_WRITES), arns.ci_roles),
            # The state key is tagged as the environment's (KeysWrite would reach it) and its alias matches
            # AliasesWrite's prefix: bootstrap alone administers them, and the key decrypts only through S3.
            _deny("NoWriteToTheStateKey", STATE_KEY_ADMINISTRATION, [arns.state_key, arns.state_alias]),
            _deny(
                "StateKeyOnlyThroughS3",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                arns.state_key,
                StringNotEquals={"kms:ViaService": f"s3.{arns.state.region}.amazonaws.com"},
            ),
        ],
    }


def permissions_boundary(env: EnvironmentConfig, account: str, partition: str = "aws") -> dict[str, Any]:
    """The most any role the stacks create may do (the functions' and API Gateway's logging role): the
    environment's buckets, queues, keys, log groups and image, X-Ray; and explicitly no IAM, no
    Organizations, no account settings, no role assumption. Made like aws-cdk-lib's bootstrap
    CustomPermissionsBoundary: a managed policy bootstrap owns and CI may not write."""
    p, r, a, prefix = partition, env.region, account, env.resource_prefix
    buckets = [f"arn:{p}:s3:::{prefix}-input-*", f"arn:{p}:s3:::{prefix}-output-*"]
    if env.model_store.bucket:
        buckets += [f"arn:{p}:s3:::{env.model_store.bucket}", f"arn:{p}:s3:::{env.model_store.bucket}/*"]
    logs = f"arn:{p}:logs:{r}:{a}:log-group:"
    # the functions' own groups, the API's access logs and its execution logs (named by the API's random id);
    # not WAF's, which the log delivery service writes
    names = (f"/aws/lambda/{prefix}-", f"/aws/apigateway/{prefix}-", "API-Gateway-Execution-Logs_")
    log_groups = [f"{logs}{name}*" for name in names]
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "EnvironmentData",
                [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:ListBucket",
                ],
                buckets,
            ),
            _statement(
                "EnvironmentQueues",
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                f"arn:{p}:sqs:{r}:{a}:{prefix}-*",
            ),
            _statement(
                "EnvironmentKeys", ["kms:Decrypt", "kms:GenerateDataKey"], f"arn:{p}:kms:{r}:{a}:key/*", **_tagged(env)
            ),
            # The functions write their own logs; API Gateway's logging role (AWS's managed
            # AmazonAPIGatewayPushToCloudWatchLogs) writes access and execution logs.
            _statement(
                "EnvironmentLogs",
                [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                ],
                log_groups,
            ),
            _statement("LogGroupsDescribe", ["logs:DescribeLogGroups"], f"{logs}*"),
            _statement("Traces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
            _statement(
                "EnvironmentImagePull",
                ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                f"arn:{p}:ecr:{r}:{a}:repository/{env.repository_name}",
            ),
            # Deny guards: a boundary allows nothing it does not list, and these say so where it matters most.
            _deny("NoIdentityOrAccountAdministration", ["iam:*", "organizations:*", "account:*"], "*"),
            _deny("NoRoleAssumption", ["sts:AssumeRole"], "*"),
        ],
    }


MANAGED_POLICY_MAX_CHARS = 6144
"""IAM's limit on one managed policy document (whitespace not counted); a role's inline policies share
10,240 in all, too little for the deploy role, so each role's permissions are managed policies."""


def split_for_managed_policies(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's statements packed in order into as few documents as fit IAM's managed policy size."""
    parts: list[list[dict[str, Any]]] = [[]]
    for statement in document["Statement"]:
        candidate = {"Version": document["Version"], "Statement": [*parts[-1], statement]}
        if parts[-1] and compact_size(candidate) > MANAGED_POLICY_MAX_CHARS:
            parts.append([])
        parts[-1].append(statement)
    return [{"Version": document["Version"], "Statement": part} for part in parts]


def compact_size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def documents(
    env: EnvironmentConfig, account: str, partition: str = "aws", *, state_key_arn: str | None = None
) -> dict[str, dict[str, Any]]:
    """Every IAM document bootstrap puts, by name: the permissions boundary, and where `ci` is set (which
    needs the state key's ARN) <role>-trust and <role>-permissions, as the IAM gate walks them."""
    ci = env.ci
    found = {"permissions-boundary": permissions_boundary(env, account, partition)}
    if ci is None:
        return found
    if state_key_arn is None:
        raise ValueError(f"{env.name}: the CI roles' documents name the state key: give state_key_arn")
    provider = oidc_provider_arn(account, partition)
    return {
        **found,
        "plan-trust": trust_policy(provider, plan_subject(ci)),
        "plan-permissions": plan_permissions(env, account, partition, state_key_arn=state_key_arn),
        "deploy-trust": trust_policy(provider, deploy_subject(ci, env), deploy_claims(ci)),
        "deploy-permissions": deploy_permissions(env, account, partition, state_key_arn=state_key_arn),
    }

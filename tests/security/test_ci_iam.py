"""The IAM gate's checks that only the CI roles and the permissions boundary need (the general ones,
test_iam.py, walk their documents too): each trust pins GitHub's audience and an exact subject; the plan
role holds no write and reads no secret (no key value, no object but the state's); the deploy role writes
IAM only on the stacks' role prefix, creates or changes a role only with the environment's boundary
(every action AWS offers `iam:PermissionsBoundary` for is conditioned on it), cannot lift a boundary,
rewrite a trust, or write the boundary or itself, passes roles only to their services, and cannot touch
users, groups or access keys; the boundary allows no IAM, Organizations, account or role assumption.
Each check is shown to catch a planted fault."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from config.environments import ENVIRONMENTS
from config.schema import EnvironmentConfig
from operations import ci_policies
from tests.security import scanners
from tests.security.test_iam import CI_ACCOUNT, ci_environments, sample_state_key_arn

OIDC = ci_policies.GITHUB_OIDC_HOST
PLAN_NON_READ_ALLOWED = {
    "kms:Decrypt": "reading an SSE-KMS state object decrypts its data key; only through S3 (kms:ViaService)",
}
"""The plan role's only actions that parliament does not class Read or List, each with its reason."""
IDENTITY_WORDS = ("User", "Group", "AccessKey", "LoginProfile", "SSHPublicKey", "ServiceSpecificCredential", "MFA")
"""IAM actions on these would let CI make identities of its own (users, keys, passwords)."""


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement.get("Resource", [])
    return [resource] if isinstance(resource, str) else list(resource)


def trust_problems(document: dict[str, Any]) -> list[str]:
    """Every way a trust policy lets more than one repository's exact subject in."""
    problems = []
    for index, statement in enumerate(document["Statement"]):
        if statement["Effect"] != "Allow":
            continue
        if _actions(statement) != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"[{index}] allows {_actions(statement)}, not only sts:AssumeRoleWithWebIdentity")
        condition = statement.get("Condition", {})
        for operator, tests in condition.items():
            if operator != "StringEquals" and any(key.startswith(OIDC) for key in tests):
                problems.append(f"[{index}] tests the token with {operator}: only StringEquals is exact")
        exact = condition.get("StringEquals", {})
        if exact.get(f"{OIDC}:aud") != ci_policies.STS_AUDIENCE:
            problems.append(f"[{index}] does not require aud = {ci_policies.STS_AUDIENCE}")
        subject = exact.get(f"{OIDC}:sub")
        if not isinstance(subject, str) or not subject.startswith("repo:") or any(c in subject for c in "*?"):
            problems.append(f"[{index}] does not require one exact sub: {subject!r}")
    return problems


def deploy_iam_problems(document: dict[str, Any], env: EnvironmentConfig, account: str) -> list[str]:
    """IAM in the deploy role: only on the stacks' role prefix, never on identities, never on the CI roles,
    PassRole only to the stacks' services, managed policy attachment only of the API Gateway logging one."""
    own_roles = f"arn:aws:iam::{account}:role/{env.resource_prefix}-*"
    ci_roles = [f"arn:aws:iam::{account}:role/{name}" for name in ci_policies.role_names(env).values()]
    problems = []
    for statement in document["Statement"]:
        iam_actions = [a for a in _actions(statement) if a.lower().startswith("iam:")]
        if statement["Effect"] != "Allow" or not iam_actions:
            continue
        sid = statement.get("Sid", "?")
        problems += [f"{sid}: {a} acts on identities" for a in iam_actions if any(w in a for w in IDENTITY_WORDS)]
        problems += [
            f"{sid}: {a} writes managed policies"
            for a in iam_actions
            if a.endswith(("Policy", "PolicyVersion")) and "Role" not in a
        ]
        for resource in _resources(statement):
            if resource != own_roles:
                problems.append(f"{sid}: {resource} is outside {own_roles}")
            problems += [
                f"{sid}: {resource} covers the CI role {r}" for r in ci_roles if fnmatch.fnmatchcase(r, resource)
            ]
        condition = statement.get("Condition", {})
        if "iam:PassRole" in iam_actions:
            passed = condition.get("StringEquals", {}).get("iam:PassedToService")
            if not passed or set(_as_list(passed)) - set(ci_policies.SERVICES_PASSED_ROLES):
                problems.append(f"{sid}: iam:PassRole not limited by iam:PassedToService: {passed!r}")
        attaches = {"iam:AttachRolePolicy", "iam:DetachRolePolicy"} & set(iam_actions)
        if (
            attaches
            and condition.get("ArnEquals", {}).get("iam:PolicyARN") != ci_policies.AWS_MANAGED_APIGW_LOGS_POLICY
        ):
            problems.append(f"{sid}: attaches managed policies other than API Gateway's logging one")
    return problems


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def access_levels(actions: list[str]) -> dict[str, list[str]]:
    levels: dict[str, list[str]] = scanners.parliament("parliament_access_levels.py", actions)
    return levels


def writes(document: dict[str, Any]) -> list[str]:
    """The document's allowed actions parliament classes as anything but Read/List (and not allow-listed)."""
    actions = sorted({a for s in document["Statement"] if s["Effect"] == "Allow" for a in _actions(s)})
    levels = access_levels(actions)
    return [
        f"{a}: {levels[a] or 'unknown'}"
        for a in actions
        if a not in PLAN_NON_READ_ALLOWED and (not levels[a] or set(levels[a]) - {"Read", "List"})
    ]


STATE_BUCKET = f"audio-inference-tfstate-{CI_ACCOUNT}-us-east-1"  # prod names none: derived per account
DOCUMENTS = {
    env.name: ci_policies.documents(env, CI_ACCOUNT, state_key_arn=sample_state_key_arn(env))
    for env in ci_environments()
}


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_both_trusts_require_the_audience_and_one_exact_subject(environment: str) -> None:
    documents = DOCUMENTS[environment]
    assert trust_problems(documents["plan-trust"]) == []
    assert trust_problems(documents["deploy-trust"]) == []
    assert documents["plan-trust"]["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"].endswith(":pull_request")
    assert documents["deploy-trust"]["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"].endswith(
        f":environment:{environment}"
    )


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_only_the_deploy_workflow_on_the_deploy_branch_may_assume_the_deploy_role(environment: str) -> None:
    """Issue #28: `sub` names the branch, not the workflow: any workflow on main (one an `issue_comment` or
    `pull_request_target` starts) presents the same sub. The trust pins GitHub's job_workflow_ref and ref."""
    (ci,) = [env.ci for env in ci_environments() if env.name == environment]
    assert ci is not None
    exact = DOCUMENTS[environment]["deploy-trust"]["Statement"][0]["Condition"]["StringEquals"]
    assert exact[f"{OIDC}:job_workflow_ref"] == f"{ci.repository}/.github/workflows/deploy.yml@refs/heads/main"
    assert exact[f"{OIDC}:ref"] == "refs/heads/main"
    no_pin = json.loads(json.dumps(DOCUMENTS[environment]["deploy-trust"]))
    del no_pin["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:job_workflow_ref"]
    assert no_pin != DOCUMENTS[environment]["deploy-trust"]  # what the pin adds is in the document bootstrap puts


def test_the_trust_check_catches_a_missing_or_wildcard_subject() -> None:
    good = DOCUMENTS["prod"]["deploy-trust"]
    no_sub = json.loads(json.dumps(good))
    del no_sub["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"]
    wildcard = json.loads(json.dumps(good))
    wildcard["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"] = "repo:octo-org/audio-inference:*"
    like = json.loads(json.dumps(good))
    like["Statement"][0]["Condition"]["StringLike"] = {f"{OIDC}:sub": "repo:octo-org/*"}
    no_aud = json.loads(json.dumps(good))
    del no_aud["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:aud"]
    assert trust_problems(no_sub) == ["[0] does not require one exact sub: None"]
    assert trust_problems(wildcard) == ["[0] does not require one exact sub: 'repo:octo-org/audio-inference:*'"]
    assert trust_problems(like) == ["[0] tests the token with StringLike: only StringEquals is exact"]
    assert trust_problems(no_aud) == ["[0] does not require aud = sts.amazonaws.com"]


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_the_plan_role_holds_no_write(environment: str) -> None:
    assert writes(DOCUMENTS[environment]["plan-permissions"]) == []
    assert all(len(reason) > 20 for reason in PLAN_NON_READ_ALLOWED.values())


def test_the_write_check_catches_a_planted_put_object() -> None:
    planted = json.loads(json.dumps(DOCUMENTS["prod"]["plan-permissions"]))
    planted["Statement"][0]["Action"] = ["s3:GetObject", "s3:PutObject"]
    assert writes(planted) == ["s3:PutObject: ['Write']"]


def test_the_plan_role_reads_state_but_never_the_lock_and_decrypts_only_through_s3() -> None:
    statements = {s["Sid"]: s for s in DOCUMENTS["prod"]["plan-permissions"]["Statement"]}
    assert statements["StateObjectsRead"]["Resource"] == [
        f"arn:aws:s3:::{STATE_BUCKET}/audio-inference/prod/inference-prod.tfstate",
        f"arn:aws:s3:::{STATE_BUCKET}/audio-inference/prod/inference-prod-registry.tfstate",
    ]
    assert statements["StateKeyThroughS3Only"]["Condition"]["StringEquals"]["kms:ViaService"] == (
        "s3.us-east-1.amazonaws.com"
    )
    assert not any(r.endswith(".tflock") for s in statements.values() for r in _resources(s))


@pytest.mark.parametrize("role", ["plan", "deploy"])
def test_the_ci_roles_touch_the_state_bucket_only_in_their_own_account(role: str) -> None:
    """The derived state bucket's name is predictable and S3 names are global: a bucket of that name another
    account made first (with a policy letting everyone in) must never receive or serve this state."""
    statements = DOCUMENTS["prod"][f"{role}-permissions"]["Statement"]
    on_state = [s for s in statements if any(r.startswith(f"arn:aws:s3:::{STATE_BUCKET}") for r in _resources(s))]
    assert {s["Sid"] for s in on_state} == (
        {"StateObjectsRead", "StateBucketListing"}
        if role == "plan"
        else {"StateObjectsReadWrite", "StateLocks", "StateBucketListing"}
    )
    for statement in on_state:
        assert statement["Condition"]["StringEquals"]["s3:ResourceAccount"] == CI_ACCOUNT, statement["Sid"]


@pytest.mark.parametrize("role", ["plan", "deploy"])
def test_the_ci_roles_use_only_the_state_key_only_through_s3_only_for_the_state_bucket(role: str) -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    key = sample_state_key_arn(env)
    statements = DOCUMENTS["prod"][f"{role}-permissions"]["Statement"]
    state_key = [s for s in statements if s["Effect"] == "Allow" and key in _resources(s)]
    assert state_key == [
        {
            "Sid": "StateKeyThroughS3Only",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"] if role == "plan" else ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,  # the state key itself: no key/* and no other key
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": "s3.us-east-1.amazonaws.com",
                    "kms:CallerAccount": CI_ACCOUNT,
                    # with a bucket key, S3 asks KMS with the bucket's ARN as the context, not the object's
                    "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{STATE_BUCKET}",
                }
            },
        }
    ]
    plan_kms = [a for s in statements if s["Effect"] == "Allow" for a in _actions(s) if a.startswith("kms:")]
    if role == "plan":  # the environment's keys are read (Describe/Get/List), none but the state key decrypted
        assert sorted(set(plan_kms) - set(ci_policies.KMS_READ)) == ["kms:Decrypt", "kms:ListAliases"]


def test_the_deploy_role_cannot_administer_the_state_key_or_use_it_outside_s3() -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    key = sample_state_key_arn(env)
    denies = {s["Sid"]: s for s in DOCUMENTS["prod"]["deploy-permissions"]["Statement"] if s["Effect"] == "Deny"}
    administration = denies["NoWriteToTheStateKey"]
    assert administration["Resource"] == [
        key,
        f"arn:aws:kms:us-east-1:{CI_ACCOUNT}:alias/audio-inference-prod-terraform-state",
    ]
    assert {
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:UpdateAlias",
        "kms:CreateGrant",
    } <= set(administration["Action"])
    assert denies["StateKeyOnlyThroughS3"]["Condition"] == {
        "StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }


def test_the_ci_documents_need_the_state_key() -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    with pytest.raises(ValueError, match="state_key_arn"):
        ci_policies.documents(env, CI_ACCOUNT)
    with pytest.raises(ValueError, match="state_key_arn='arn:aws:kms:us-east-1:123456789012:alias/x' is invalid"):
        ci_policies.plan_permissions(env, CI_ACCOUNT, state_key_arn="arn:aws:kms:us-east-1:123456789012:alias/x")


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_the_deploy_role_writes_iam_only_on_the_stacks_roles(environment: str) -> None:
    env = next(e for e in ci_environments() if e.name == environment)
    assert deploy_iam_problems(DOCUMENTS[environment]["deploy-permissions"], env, CI_ACCOUNT) == []


def test_the_deploy_iam_check_catches_identities_wide_passrole_and_its_own_role() -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    roles = f"arn:aws:iam::{CI_ACCOUNT}:role/{env.resource_prefix}-*"
    planted = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Keys", "Effect": "Allow", "Action": ["iam:CreateUser", "iam:CreateAccessKey"], "Resource": roles},
            {
                "Sid": "Pass",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{CI_ACCOUNT}:role/*",
            },
        ],
    }
    assert deploy_iam_problems(planted, env, CI_ACCOUNT) == [
        "Keys: iam:CreateUser acts on identities",
        "Keys: iam:CreateAccessKey acts on identities",
        f"Pass: arn:aws:iam::{CI_ACCOUNT}:role/* is outside {roles}",
        *(
            f"Pass: arn:aws:iam::{CI_ACCOUNT}:role/* covers the CI role "
            f"arn:aws:iam::{CI_ACCOUNT}:role/github-audio-inference-prod-{kind}"
            for kind in ("plan", "deploy")
        ),
        "Pass: iam:PassRole not limited by iam:PassedToService: None",
    ]


def test_the_ci_roles_lie_outside_the_prefix_the_deploy_role_writes() -> None:
    for env in ci_environments():
        for name in ci_policies.role_names(env).values():
            assert not name.startswith(env.resource_prefix), name


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_each_role_fits_iams_managed_policy_limits(environment: str) -> None:
    for kind in ("plan", "deploy"):
        parts = ci_policies.split_for_managed_policies(DOCUMENTS[environment][f"{kind}-permissions"])
        assert all(ci_policies.compact_size(p) <= ci_policies.MANAGED_POLICY_MAX_CHARS for p in parts)
        assert len(parts) <= 10, "IAM's default quota of managed policies attached to a role"
        assert [s for p in parts for s in p["Statement"]] == DOCUMENTS[environment][f"{kind}-permissions"]["Statement"]


S3_SETTING = {
    "cors_configuration": "BucketCORS",
    "lifecycle_configuration": "LifecycleConfiguration",
    "notification": "BucketNotification",
    "ownership_controls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "public_access_block": "BucketPublicAccessBlock",
    "server_side_encryption_configuration": "EncryptionConfiguration",
    "versioning": "BucketVersioning",
}
APIGATEWAY = ({"apigateway:GET"}, {"apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"})
TERRAFORM_ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    "aws_cloudwatch_dashboard": (
        {"cloudwatch:GetDashboard"},
        {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"},
    ),
    "aws_cloudwatch_log_group": (
        {"logs:DescribeLogGroups", "logs:ListTagsForResource"},
        {
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:TagResource",
        },
    ),
    "aws_cloudwatch_log_resource_policy": (
        {"logs:DescribeResourcePolicies"},
        {"logs:PutResourcePolicy", "logs:DeleteResourcePolicy"},
    ),
    "aws_cloudwatch_metric_alarm": (
        {"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"},
        {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"},
    ),
    "aws_ecr_repository": (
        {"ecr:DescribeRepositories", "ecr:ListTagsForResource"},
        {"ecr:CreateRepository", "ecr:DeleteRepository", "ecr:TagResource", "ecr:PutImageScanningConfiguration"},
    ),
    "aws_ecr_lifecycle_policy": ({"ecr:GetLifecyclePolicy"}, {"ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy"}),
    "aws_iam_role": (
        {"iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"},
        {
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",  # the boundary; a trust change (UpdateAssumeRolePolicy) is denied
            "iam:TagRole",
            "iam:ListInstanceProfilesForRole",
        },
    ),
    "aws_iam_role_policy": ({"iam:GetRolePolicy"}, {"iam:PutRolePolicy", "iam:DeleteRolePolicy"}),
    "aws_iam_role_policy_attachment": (
        {"iam:ListAttachedRolePolicies"},
        {"iam:AttachRolePolicy", "iam:DetachRolePolicy"},
    ),
    "aws_kms_key": (
        {"kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"},
        {"kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:TagResource"},
    ),
    "aws_kms_alias": ({"kms:ListAliases"}, {"kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"}),
    "aws_lambda_function": (
        {"lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction"},
        {
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PutFunctionConcurrency",
            "iam:PassRole",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        },
    ),
    "aws_lambda_permission": ({"lambda:GetPolicy"}, {"lambda:AddPermission", "lambda:RemovePermission"}),
    "aws_lambda_event_source_mapping": (
        {"lambda:GetEventSourceMapping"},
        {"lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:UpdateEventSourceMapping"},
    ),
    "aws_s3_bucket": (set(ci_policies.S3_BUCKET_READ), {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging"}),
    **{f"aws_s3_bucket_{setting}": ({f"s3:Get{name}"}, {f"s3:Put{name}"}) for setting, name in S3_SETTING.items()},
    "aws_sns_topic": (
        {"sns:GetTopicAttributes", "sns:ListTagsForResource"},
        {"sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:TagResource"},
    ),
    "aws_sns_topic_subscription": ({"sns:GetSubscriptionAttributes"}, {"sns:Subscribe", "sns:Unsubscribe"}),
    "aws_sqs_queue": (
        {"sqs:GetQueueAttributes", "sqs:ListQueueTags"},
        {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue"},
    ),
    "aws_sqs_queue_policy": ({"sqs:GetQueueAttributes"}, {"sqs:SetQueueAttributes"}),
    "aws_wafv2_web_acl": (
        {"wafv2:GetWebACL", "wafv2:ListTagsForResource"},
        {"wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL", "wafv2:TagResource"},
    ),
    "aws_wafv2_web_acl_association": (
        {"wafv2:GetWebACLForResource"},
        {"wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "apigateway:SetWebACL"},
    ),
    "aws_wafv2_web_acl_logging_configuration": (
        {"wafv2:GetLoggingConfiguration"},
        {"wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration", "logs:CreateLogDelivery"},
    ),
}
"""What terraform's AWS provider calls to read (plan) and to create, change or delete (deploy) each resource
type; a type the stacks gain that is not here fails the next test until the CI roles are brought along."""
DATA_WITHOUT_PERMISSIONS = {"aws_caller_identity", "aws_partition", "aws_iam_policy_document"}
"""Data sources that need no permission: STS GetCallerIdentity is always allowed; the others are local."""
DATA_READS = {"aws_ssm_parameters_by_path": {"ssm:GetParametersByPath"}}
"""Data sources that read the account (the release pointer): both roles plan, so both need the read."""


def test_the_ci_roles_cover_every_resource_type_the_environments_stacks_make(stacks: dict[str, Any]) -> None:
    for env in ci_environments():
        documents = DOCUMENTS[env.name]
        plan = {a for s in documents["plan-permissions"]["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
        deploy = {
            a for s in documents["deploy-permissions"]["Statement"] if s["Effect"] == "Allow" for a in _actions(s)
        }
        for stack_name in (env.registry_stack_name, env.stack_name):
            for resource_type in stacks[stack_name].get("resource", {}):
                read, write = (
                    APIGATEWAY if resource_type.startswith("aws_api_gateway_") else TERRAFORM_ACTIONS[resource_type]
                )
                assert read <= plan, f"plan role lacks {sorted(read - plan)} to read {resource_type}"
                assert read | write <= deploy, (
                    f"deploy role lacks {sorted((read | write) - deploy)} for {resource_type}"
                )
            data = set(stacks[stack_name].get("data", {}))
            assert data <= DATA_WITHOUT_PERMISSIONS | set(DATA_READS)
            for data_type in data & set(DATA_READS):
                assert DATA_READS[data_type] <= plan & deploy, (
                    f"a CI role lacks {DATA_READS[data_type]} for {data_type}"
                )


# The permissions boundary and what the deploy role may do to a role.

SAMPLE_ROLE = f"arn:aws:iam::{CI_ACCOUNT}:role/audio-inference-prod-predict-role"


def condition_keys(prefixes: list[str]) -> dict[str, list[str]]:
    """Every action of these services with the condition keys AWS's reference lists for it (parliament's copy)."""
    keys: dict[str, list[str]] = scanners.parliament("parliament_condition_keys.py", prefixes)
    return keys


def _covers(statement: dict[str, Any], action: str, resource: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _actions(statement)) and any(
        fnmatch.fnmatchcase(resource, r) for r in _resources(statement)
    )


def boundary_problems(document: dict[str, Any], boundary: str, with_key: set[str]) -> list[str]:
    """Every allowed IAM action that AWS can condition on iam:PermissionsBoundary but is not conditioned on
    exactly this boundary; every other allowed role action not in ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY; a trust
    rewrite or a boundary removal not denied on the stacks' roles."""
    problems = []
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        sid = statement.get("Sid", "?")
        for action in (a for a in _actions(statement) if a.lower().startswith("iam:")):
            if action in with_key:
                found = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PermissionsBoundary")
                if found != boundary:
                    problems.append(f"{sid}: {action} not conditioned on iam:PermissionsBoundary = {boundary}")
            elif action not in ci_policies.ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY and action not in ci_policies.IAM_READ:
                problems.append(
                    f"{sid}: {action} has no boundary key and no reason in ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY"
                )
    denied = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    for action in ci_policies.DENIED_ROLE_ACTIONS:
        if not any(_covers(s, action, SAMPLE_ROLE) and not s.get("Condition") for s in denied):
            problems.append(f"{action} is not denied on the stacks' roles")
    return problems


def test_the_conditioned_role_actions_are_exactly_those_aws_offers_the_boundary_key_for() -> None:
    keys = condition_keys(["iam"])
    with_key = {a for a, found in keys.items() if "iam:PermissionsBoundary" in found}
    role_actions_with_key = {a for a in with_key if "Role" in a}
    assert set(ci_policies.BOUNDARY_CONDITIONED_ROLE_ACTIONS) | {"iam:DeleteRolePermissionsBoundary"} == (
        role_actions_with_key
    )
    for action in [*ci_policies.ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY, *ci_policies.DENIED_ROLE_ACTIONS]:
        assert action in keys, f"{action} is not an IAM action"
        if action != "iam:DeleteRolePermissionsBoundary":
            assert "iam:PermissionsBoundary" not in keys[action], f"{action} could be conditioned: condition it"
    assert all(len(reason) > 30 for reason in ci_policies.ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY.values())


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_the_deploy_role_creates_or_changes_a_role_only_with_the_boundary(environment: str) -> None:
    env = next(e for e in ci_environments() if e.name == environment)
    with_key = {a for a, found in condition_keys(["iam"]).items() if "iam:PermissionsBoundary" in found}
    boundary = ci_policies.permissions_boundary_arn(env, CI_ACCOUNT)
    document = DOCUMENTS[environment]["deploy-permissions"]
    assert boundary_problems(document, boundary, with_key) == []
    allowed = {a for s in document["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
    assert set(ci_policies.BOUNDARY_CONDITIONED_ROLE_ACTIONS) <= allowed
    assert not set(ci_policies.DENIED_ROLE_ACTIONS) & allowed


def test_the_boundary_check_catches_an_unconditioned_put_role_policy_and_an_allowed_trust_rewrite() -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    with_key = {a for a, found in condition_keys(["iam"]).items() if "iam:PermissionsBoundary" in found}
    boundary = ci_policies.permissions_boundary_arn(env, CI_ACCOUNT)
    roles = f"arn:aws:iam::{CI_ACCOUNT}:role/{env.resource_prefix}-*"
    planted = {
        "Statement": [
            {"Sid": "Put", "Effect": "Allow", "Action": ["iam:PutRolePolicy"], "Resource": roles},
            {"Sid": "Trust", "Effect": "Allow", "Action": ["iam:UpdateAssumeRolePolicy"], "Resource": roles},
            {
                "Sid": "Other",
                "Effect": "Allow",
                "Action": ["iam:CreateRole"],
                "Resource": roles,
                "Condition": {
                    "StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}
                },
            },
        ]
    }
    assert boundary_problems(planted, boundary, with_key) == [
        f"Put: iam:PutRolePolicy not conditioned on iam:PermissionsBoundary = {boundary}",
        "Trust: iam:UpdateAssumeRolePolicy has no boundary key and no reason in ROLE_ACTIONS_WITHOUT_BOUNDARY_KEY",
        f"Other: iam:CreateRole not conditioned on iam:PermissionsBoundary = {boundary}",
        "iam:UpdateAssumeRolePolicy is not denied on the stacks' roles",
        "iam:DeleteRolePermissionsBoundary is not denied on the stacks' roles",
    ]


@pytest.mark.parametrize("environment", sorted(DOCUMENTS))
def test_the_deploy_role_may_not_write_the_boundary_its_own_policies_or_its_own_roles(environment: str) -> None:
    env = next(e for e in ci_environments() if e.name == environment)
    denied = [s for s in DOCUMENTS[environment]["deploy-permissions"]["Statement"] if s["Effect"] == "Deny"]
    policies = [ci_policies.permissions_boundary_arn(env, CI_ACCOUNT)] + [
        f"arn:aws:iam::{CI_ACCOUNT}:policy/{name}-1" for name in ci_policies.role_names(env).values()
    ]
    for policy in policies:
        for action in ci_policies.POLICY_WRITES:
            assert any(_covers(s, action, policy) for s in denied), f"{action} on {policy} is not denied"
    for name in ci_policies.role_names(env).values():
        for action in ci_policies.ROLE_WRITES:
            role = f"arn:aws:iam::{CI_ACCOUNT}:role/{name}"
            assert any(_covers(s, action, role) for s in denied), f"{action} on {role} is not denied"


BOUNDARY_DENIED = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "organizations:LeaveOrganization",
    "account:PutAlternateContact",
)


def test_the_boundary_allows_no_iam_organizations_account_or_role_assumption() -> None:
    for env in ENVIRONMENTS.values():
        document = ci_policies.permissions_boundary(env, CI_ACCOUNT)
        allowed = [a for s in document["Statement"] if s["Effect"] == "Allow" for a in _actions(s)]
        assert not [a for a in allowed if a.split(":")[0] in ("iam", "organizations", "account", "sts")]
        denied = [s for s in document["Statement"] if s["Effect"] == "Deny"]
        for action in (*BOUNDARY_DENIED, "sts:AssumeRole"):
            assert any(_covers(s, action, "arn:aws:iam::999999999999:role/admin") for s in denied), action
        prefix = env.resource_prefix
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow" and statement["Resource"] != "*":
                for resource in _resources(statement):
                    assert (
                        prefix in resource
                        or resource.endswith(f":repository/{env.repository_name}")
                        or "API-Gateway-Execution-Logs_" in resource
                        or resource.endswith(("log-group:*", ":key/*"))
                    ), resource


def test_the_plan_role_reads_no_secret_and_no_object_but_the_state() -> None:
    document = DOCUMENTS["prod"]["plan-permissions"]
    allows = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    gateway = "arn:aws:apigateway:us-east-1::"
    for path in ("apikeys", "apikeys/k1", "usageplans/p1/keys", "usageplans/p1/keys/k1"):
        resource = f"{gateway}/{path}"
        allowed = any(_covers(s, "apigateway:GET", resource) for s in allows)
        assert not allowed or any(_covers(s, "apigateway:GET", resource) for s in denies), path
    assert any(_covers(s, "apigateway:GET", f"{gateway}/usageplans/p1") for s in allows), "plans stay readable"
    objects = [r for s in allows if "s3:GetObject" in _actions(s) for r in _resources(s)]
    assert objects == [
        f"arn:aws:s3:::{STATE_BUCKET}/audio-inference/prod/inference-prod.tfstate",
        f"arn:aws:s3:::{STATE_BUCKET}/audio-inference/prod/inference-prod-registry.tfstate",
    ]
    assert not [s for s in allows if any(a.startswith("s3:GetObject") and a != "s3:GetObject" for a in _actions(s))]


def test_the_deploy_role_writes_api_gateway_only_on_the_environments_tags_and_never_a_key() -> None:
    env = next(e for e in ci_environments() if e.name == "prod")
    statements = DOCUMENTS["prod"]["deploy-permissions"]["Statement"]
    for statement in statements:
        writes = [a for a in _actions(statement) if a.startswith("apigateway:") and a != "apigateway:GET"]
        if statement["Effect"] != "Allow" or not writes:
            continue
        if statement["Sid"] == "ApiGatewayAccountLoggingRole":
            assert _resources(statement) == ["arn:aws:apigateway:us-east-1::/account"]
            continue
        condition = json.dumps(statement.get("Condition", {}))
        assert f'"{env.name}"' in condition or "aws:TagKeys" in condition, statement["Sid"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    for method in ("GET", "POST", "DELETE"):
        assert any(_covers(s, f"apigateway:{method}", "arn:aws:apigateway:us-east-1::/apikeys/k1") for s in denies)


def test_the_deploy_role_tags_untags_or_sets_a_web_acl_only_on_api_gateway_resources_already_the_environments() -> None:
    """ApiGatewayWriteTagged trusts a resource's tags: were tagging allowed on any resource, the role could
    tag another team's API (or prod's, from dev's role in one account) as its own and then rewrite it.
    WAF's association with a stage also needs apigateway:SetWebACL on that stage."""
    for env in ci_environments():
        statements = DOCUMENTS[env.name]["deploy-permissions"]["Statement"]
        reaching = [
            s
            for s in statements
            if s["Effect"] == "Allow"
            and any(r.endswith(("/tags/*", "/stages/*")) for r in _resources(s))
            and any(a.startswith("apigateway:") and a != "apigateway:GET" for a in _actions(s))
        ]
        assert {s["Sid"] for s in reaching} == {
            "ApiGatewayTagsKeepTheEnvironments",
            "ApiGatewayUntagOthers",
            "ApiGatewayWebAcl",
        }
        for statement in reaching:
            equals = statement["Condition"]["StringEquals"]
            assert equals["aws:ResourceTag/Environment"] == env.name, statement["Sid"]
            assert equals["aws:ResourceTag/Project"] == env.project, statement["Sid"]

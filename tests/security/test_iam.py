"""Least privilege, proven over every policy statement the stacks generate: IAM policy documents
and the JSON policies written inline (the KMS key policy, the WAF log delivery policy). Deny guards
(TLS-only bucket policies) may use wildcards; an Allow may not, and allows Resource "*" only for
perms.UNSCOPABLE_ACTIONS (ci_policies.UNSCOPABLE_ACTIONS for the CI roles). The CI roles' trust and
permission documents (operations/ci_policies.py) go through the same checks; test_ci_iam.py adds theirs.
Every action name must be one parliament knows (a typo is a permission that silently never works).
The API stage's logging role attaches AWS's managed AmazonAPIGatewayPushToCloudWatchLogs: AWS writes
that policy, not these stacks, so it is outside this walk."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config.environments import ENVIRONMENTS
from config.schema import CiIdentities, EnvironmentConfig
from infra_constructs.perms import UNSCOPABLE_ACTIONS
from operations import ci_policies
from tests.security import scanners
from tests.support.stacks import Stack, stack_names

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Statement:
    where: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    key_policy: bool
    """In a KMS key policy, Resource "*" means the key itself, not every resource."""
    service_principals: tuple[str, ...] = ()
    condition_keys: frozenset[str] = frozenset()
    unscopable: frozenset[str] = frozenset(UNSCOPABLE_ACTIONS)
    """The actions this statement's author may allow on Resource "*": the stacks' list, or the CI roles'."""


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def statements_of(stack_name: str, stack: Stack) -> list[Statement]:
    found: list[Statement] = []
    for name, document in stack.get("data", {}).get("aws_iam_policy_document", {}).items():
        for index, s in enumerate(document["statement"]):
            found.append(
                Statement(
                    f"{stack_name}: {name}[{index}]",
                    s.get("effect", "Allow"),
                    _as_tuple(s.get("actions")),
                    _as_tuple(s.get("resources")),
                    key_policy=False,
                    service_principals=tuple(
                        identifier
                        for p in s.get("principals", [])
                        if p["type"] == "Service"
                        for identifier in _as_tuple(p["identifiers"])
                    ),
                    condition_keys=frozenset(c["variable"] for c in s.get("condition", [])),
                )
            )
    for resource_type, resources in stack.get("resource", {}).items():
        for name, resource in resources.items():
            text = resource.get("policy") or resource.get("policy_document")  # a log resource policy names it so
            if not (isinstance(text, str) and text.lstrip().startswith("{")):
                continue  # a reference to a policy document (walked above), or none
            found += statements_of_policy(
                f"{stack_name}: {resource_type}.{name}", json.loads(text), key_policy=resource_type == "aws_kms_key"
            )
    return found


def statements_of_policy(
    where: str, policy: dict[str, Any], *, key_policy: bool = False, unscopable: frozenset[str] | None = None
) -> list[Statement]:
    """The statements of a JSON policy document (a bucket, queue, key or log resource policy, a CI role's)."""
    return [
        Statement(
            f"{where}[{index}]",
            s["Effect"],
            _as_tuple(s.get("Action")),
            _as_tuple(s.get("Resource")),
            key_policy=key_policy,
            service_principals=_as_tuple((s.get("Principal") or {}).get("Service"))
            if isinstance(s.get("Principal"), dict)
            else (),
            condition_keys=frozenset(key for test in s.get("Condition", {}).values() for key in test),
            unscopable=frozenset(UNSCOPABLE_ACTIONS) if unscopable is None else unscopable,
        )
        for index, s in enumerate(policy.get("Statement", []))  # an ECR lifecycle policy has none
    ]


CI_ACCOUNT = "123456789012"
SAMPLE_CI = CiIdentities(repository="octo-org/audio-inference")
"""The gate holds every environment's CI documents, with the setting on: its own value where it sets
one, this sample repository where it leaves CI off (the permissions do not depend on the repository)."""


def ci_environments() -> list[EnvironmentConfig]:
    return [env if env.ci else dataclasses.replace(env, ci=SAMPLE_CI) for env in ENVIRONMENTS.values() if env.state]


def sample_state_key_arn(env: EnvironmentConfig) -> str:
    """A state key ARN as bootstrap reads it back (KMS makes the id): the CI documents name the key itself."""
    region = getattr(env.state, "region", env.region)
    return f"arn:aws:kms:{region}:{CI_ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def ci_statements() -> list[Statement]:
    """The CI roles' trust and permission documents and every environment's permissions boundary
    (operations/ci_policies.py), as bootstrap puts them."""
    without_ci = [env for env in ENVIRONMENTS.values() if not env.state]
    return [
        statement
        for env in [*ci_environments(), *without_ci]
        for name, document in ci_policies.documents(
            env, CI_ACCOUNT, state_key_arn=sample_state_key_arn(env) if env.state else None
        ).items()
        for statement in statements_of_policy(
            f"ci {env.name}: {name}", document, unscopable=frozenset(ci_policies.UNSCOPABLE_ACTIONS)
        )
    ]


@pytest.fixture(scope="module")
def every_statement(stacks: dict[str, Stack]) -> list[Statement]:
    found = [s for name in stack_names() for s in statements_of(name, stacks[name])]
    assert len(found) > 20, "the walk found too few statements to mean anything"
    ci = ci_statements()
    assert len(ci) > 20, "the CI roles' documents are in the walk"
    return found + ci


SOURCE_CONDITIONS = frozenset({"aws:SourceAccount", "aws:SourceArn"})
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
TRUST = ("sts:AssumeRole",)
"""A role's trust policy: AWS services assume the role only where this account configures them to
(iam:PassRole), so the confused-deputy conditions do not apply there."""


def unconditioned_service_allows(statements: list[Statement]) -> list[str]:
    """Every Allow to an AWS service principal that names neither the source account and ARN, nor (for
    CloudWatch Logs on a key) the log groups' encryption context: any account's resource could make
    the service act on ours (the confused deputy)."""
    return [
        f"{s.where}: {list(s.service_principals)} {list(s.actions)} conditioned only on {sorted(s.condition_keys)}"
        for s in statements
        if s.effect == "Allow" and s.service_principals and s.actions != TRUST
        if not (s.condition_keys >= SOURCE_CONDITIONS or LOGS_CONTEXT in s.condition_keys)
    ]


def test_every_service_principal_allow_names_its_source(every_statement: list[Statement]) -> None:
    assert unconditioned_service_allows(every_statement) == []
    assert any(s.service_principals and s.actions != TRUST for s in every_statement), "nothing was checked"


def test_the_service_principal_gate_catches_a_missing_condition() -> None:
    bare = Statement("s3 on a key", "Allow", ("kms:Decrypt",), ("*",), True, ("s3.amazonaws.com",), frozenset())
    account_only = Statement(
        "s3 on a queue",
        "Allow",
        ("sqs:SendMessage",),
        ("arn",),
        False,
        ("s3.amazonaws.com",),
        frozenset({"aws:SourceArn"}),
    )
    trust = Statement("trust", "Allow", TRUST, (), False, ("lambda.amazonaws.com",), frozenset())
    assert [w.split(":")[0] for w in unconditioned_service_allows([bare, account_only, trust])] == [
        "s3 on a key",
        "s3 on a queue",
    ]


def test_every_function_permission_names_its_source(stacks: dict[str, Stack]) -> None:
    permissions = [
        p for name in stack_names() for p in stacks[name].get("resource", {}).get("aws_lambda_permission", {}).values()
    ]
    assert permissions
    assert all(p["principal"].endswith(".amazonaws.com") and p.get("source_arn") for p in permissions)


def test_no_allow_has_a_wildcard_action(every_statement: list[Statement]) -> None:
    offending = [
        f"{s.where}: {action}"
        for s in every_statement
        if s.effect == "Allow"
        for action in s.actions
        if action == "*" or action.endswith(":*")
    ]
    assert offending == []


def test_star_resources_only_for_actions_aws_cannot_scope(every_statement: list[Statement]) -> None:
    offending = [
        f"{s.where}: {sorted(set(s.actions) - s.unscopable)}"
        for s in every_statement
        if s.effect == "Allow" and "*" in s.resources and not s.key_policy
        if set(s.actions) - s.unscopable
    ]
    assert offending == []
    assert all(len(reason) > 20 for reason in [*UNSCOPABLE_ACTIONS.values(), *ci_policies.UNSCOPABLE_ACTIONS.values()])
    assert any(s.where.startswith("ci ") and "*" in s.resources for s in every_statement), "CI statements checked"


def test_the_star_resource_gate_holds_each_author_to_its_own_list() -> None:
    """A CI role's unscopable action is not one the stacks may use on "*", nor the other way round."""
    stack = Statement("stack", "Allow", ("ecr:GetAuthorizationToken",), ("*",), False)
    ci = Statement(
        "ci", "Allow", ("s3:GetObject",), ("*",), False, unscopable=frozenset(ci_policies.UNSCOPABLE_ACTIONS)
    )
    assert set(stack.actions) - stack.unscopable and set(ci.actions) - ci.unscopable


def test_every_wildcard_in_an_allowed_action_is_within_one_service(every_statement: list[Statement]) -> None:
    """kms:Get* in the key's administration statement is fine; s3:* or *:Get would not be."""
    for s in every_statement:
        if s.effect == "Allow":
            for action in s.actions:
                service, _, name = action.partition(":")
                assert "*" not in service and name and name != "*", f"{s.where}: {action}"


def test_every_action_is_one_parliament_knows(every_statement: list[Statement]) -> None:
    policies: dict[str, str] = {}
    for statement in every_statement:
        policies[statement.where] = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": statement.effect, "Action": list(statement.actions), "Resource": "*"}],
            }
        )
    answers = scanners.parliament("parliament_findings.py", policies)
    findings = {where: found for where, found in answers.items() if found}
    assert len(answers) == len(policies)
    assert findings == {}


def test_a_misspelt_action_is_caught() -> None:
    """The gate itself works: parliament flags an action that does not exist."""
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    answers = scanners.parliament("parliament_findings.py", {"typo": json.dumps(policy)})
    assert answers["typo"] == ["UNKNOWN_ACTION: Unknown action s3:GetObjekt"]


def test_every_role_the_stacks_create_carries_the_environments_boundary(stacks: dict[str, Stack]) -> None:
    roles = 0
    for name in stack_names():
        env = next(e for e in ENVIRONMENTS.values() if name in (e.stack_name, e.registry_stack_name))
        for role in stacks[name].get("resource", {}).get("aws_iam_role", {}).values():
            roles += 1
            assert role.get("permissions_boundary") == (
                "arn:${data.aws_partition.current-partition.partition}:iam::"
                "${data.aws_caller_identity.current-account.account_id}:policy/"
                f"{env.permissions_boundary_name}"
            ), role["name"]
    assert roles >= 4, "both functions' roles and the logging role, in each environment"


APIGW_LOGS_MANAGED_POLICY = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
)
"""What AWS's AmazonAPIGatewayPushToCloudWatchLogs allows (the logging role's one managed policy)."""


def test_the_boundary_allows_every_action_the_stacks_grant(stacks: dict[str, Stack]) -> None:
    """A boundary narrower than a grant breaks the function at run time: each granted action is in it."""
    for env in ENVIRONMENTS.values():
        boundary = ci_policies.permissions_boundary(env, CI_ACCOUNT)
        allowed = {a for s in boundary["Statement"] if s["Effect"] == "Allow" for a in _as_tuple(s["Action"])}
        granted = {
            action
            for statement in statements_of(env.stack_name, stacks[env.stack_name])
            if statement.effect == "Allow" and not statement.service_principals and statement.actions != TRUST
            if "kms:CreateGrant" not in statement.actions and not statement.key_policy
            for action in statement.actions
        }
        granted = {a for a in granted if not a.startswith("kms:") or a in ("kms:Decrypt", "kms:GenerateDataKey")}
        assert granted, "the walk found the grants"
        assert granted - allowed == set()
        assert set(APIGW_LOGS_MANAGED_POLICY) - allowed == set()


def test_the_keys_logs_statement_names_only_this_environments_log_groups(stacks: dict[str, Stack]) -> None:
    """Issue #28: CloudWatch Logs may use a stack's key for that environment's groups, and for API Gateway's
    execution logs only of this stack's API (by its id), never `API-Gateway-Execution-Logs_*` (every API's)."""
    checked = 0
    for name in stack_names():
        env = ENVIRONMENTS[name.split("-")[1]]
        resources = stacks[name].get("resource", {})
        apis = list(resources.get("aws_api_gateway_rest_api", {}))
        allowed_execution_logs = {
            f"API-Gateway-Execution-Logs_${{aws_api_gateway_rest_api.{api}.id}}/{env.api.stage_name}" for api in apis
        }
        for key in resources.get("aws_kms_key", {}).values():
            policy = json.loads(key["policy"])
            logs = [s for s in policy["Statement"] if str(s["Principal"].get("Service", "")).startswith("logs.")]
            assert len(logs) == 1, name
            groups = [arn.split(":log-group:", 1)[1] for arn in logs[0]["Condition"]["ArnLike"][LOGS_CONTEXT]]
            for group in groups:
                assert (
                    group.startswith((f"/aws/lambda/{env.resource_prefix}-", f"/aws/apigateway/{env.resource_prefix}-"))
                    or group.startswith(f"aws-waf-logs-{env.resource_prefix}-")
                    or group in allowed_execution_logs
                ), f"{name}: the key's logs statement names {group}"
            assert allowed_execution_logs <= set(groups), f"{name}: the API's execution logs cannot use the key"
            checked += 1
        for group in resources.get("aws_cloudwatch_log_group", {}).values():
            if group["name"].startswith("API-Gateway-Execution-Logs_"):
                assert group["name"] in allowed_execution_logs and group.get("kms_key_id"), name
    assert checked == len(stack_names()), "every stack has its key"

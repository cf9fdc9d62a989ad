"""`make bootstrap`'s IAM: the environment's permissions boundary (always), and where `ci` is set the
GitHub OIDC provider and the CI plan and deploy roles, put with boto3 so that a second run changes
nothing and a hand edit is undone.

The boundary is the customer-managed policy `<project>-<env>-permissions-boundary`
(operations/ci_policies.permissions_boundary): every role the stacks create carries it, and the deploy
role may create or change a role only with it attached. Its document is put back on every run.

The provider is the account's one for token.actions.githubusercontent.com: reused where it exists
(only the audience sts.amazonaws.com is added to it; other client ids another team relies on stay).
Each role's trust, description and session length are put every run; its permissions are the
customer-managed policies `<role>-<n>` (operations/ci_policies.py splits the document to IAM's size
limit), a new default version only when the document differs; every other policy attached to the
role, managed or inline, is removed, because nothing but bootstrap may widen a CI role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from config.schema import EnvironmentConfig
from operations import ci_policies

MAX_POLICY_VERSIONS = 5
"""IAM keeps at most five versions of a managed policy; the oldest non-default goes before a new one."""


@dataclass(frozen=True)
class RoleResult:
    name: str
    arn: str
    created: bool
    changed: list[str]
    """What a re-run had to put back: trust, settings, policy names, removed extras."""


def _document(value: Any) -> dict[str, Any]:
    """boto3 returns policy documents decoded, or URL-encoded JSON (moto, older endpoints)."""
    return value if isinstance(value, dict) else json.loads(unquote(value))


def ensure_oidc_provider(iam: Any, account: str, partition: str = "aws") -> tuple[str, bool]:
    """The account's GitHub provider with sts.amazonaws.com among its audiences; (arn, created)."""
    arn = ci_policies.oidc_provider_arn(account, partition)
    try:
        found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except iam.exceptions.NoSuchEntityException:
        iam.create_open_id_connect_provider(
            Url=ci_policies.GITHUB_OIDC_URL,
            ClientIDList=[ci_policies.STS_AUDIENCE],
            ThumbprintList=list(ci_policies.GITHUB_THUMBPRINTS),
            Tags=[{"Key": "ManagedBy", "Value": "make bootstrap"}],
        )
        return arn, True
    if ci_policies.STS_AUDIENCE not in found.get("ClientIDList", []):
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=ci_policies.STS_AUDIENCE)
    return arn, False


def _ensure_managed_policy(
    iam: Any,
    arn: str,
    name: str,
    document: dict[str, Any],
    tags: list[dict[str, str]],
    description: str = "CI role permissions (make bootstrap)",
) -> bool:
    """Create the policy, or make `document` its default version; True when anything was put."""
    text = json.dumps(document, separators=(",", ":"))
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_policy(PolicyName=name, PolicyDocument=text, Tags=tags, Description=description)
        return True
    current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    if _document(current["Document"]) == document:
        return False
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    return True


def _delete_managed_policy(iam: Any, arn: str) -> None:
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def ensure_role(
    iam: Any,
    *,
    env: EnvironmentConfig,
    name: str,
    description: str,
    trust: dict[str, Any],
    permissions: dict[str, Any],
    account: str,
    partition: str = "aws",
) -> RoleResult:
    assert env.ci is not None
    tags = [{"Key": k, "Value": v} for k, v in {**env.all_tags, "ManagedBy": "make bootstrap"}.items()]
    changed: list[str] = []
    try:
        role = iam.get_role(RoleName=name)["Role"]
        created = False
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=description,
            MaxSessionDuration=env.ci.max_session_s,
            Tags=tags,
        )["Role"]
        created = True
    if not created:
        if _document(role["AssumeRolePolicyDocument"]) != trust:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            changed.append("trust")
        if role.get("Description") != description or role.get("MaxSessionDuration") != env.ci.max_session_s:
            iam.update_role(RoleName=name, Description=description, MaxSessionDuration=env.ci.max_session_s)
            changed.append("settings")
    wanted: dict[str, str] = {}
    for index, part in enumerate(ci_policies.split_for_managed_policies(permissions), start=1):
        policy_name = f"{name}-{index}"
        arn = f"arn:{partition}:iam::{account}:policy/{policy_name}"
        wanted[arn] = policy_name
        if _ensure_managed_policy(iam, arn, policy_name, part, tags) and not created:
            changed.append(policy_name)
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    for arn in sorted(set(wanted) - attached):
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        if not created and wanted[arn] not in changed:
            changed.append(f"{wanted[arn]} attached")
    for arn in sorted(attached - set(wanted)):
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        changed.append(f"detached {arn}")
        if arn.split("/")[-1].startswith(f"{name}-"):  # one of ours from a larger split: gone with it
            _delete_managed_policy(iam, arn)
    for inline in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=inline)
        changed.append(f"removed inline {inline}")
    return RoleResult(name, role["Arn"], created, changed)


def ensure_permissions_boundary(env: EnvironmentConfig, iam: Any, account: str, partition: str = "aws") -> str:
    """Put the environment's permissions boundary; the line bootstrap prints."""
    arn = ci_policies.permissions_boundary_arn(env, account, partition)
    tags = [{"Key": k, "Value": v} for k, v in {**env.all_tags, "ManagedBy": "make bootstrap"}.items()]
    existed = True
    try:
        iam.get_policy(PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException:
        existed = False
    changed = _ensure_managed_policy(
        iam,
        arn,
        env.permissions_boundary_name,
        ci_policies.permissions_boundary(env, account, partition),
        tags,
        description=f"The most any role of {env.stack_name} may do (make bootstrap; CI may not change it)",
    )
    state = "repaired" if existed and changed else ("already there" if existed else "created")
    return f"{env.name}: permissions boundary {arn} {state} (every role the stacks create carries it)"


def ensure_ci_identities(
    env: EnvironmentConfig, iam: Any, account: str, partition: str = "aws", *, state_key_arn: str
) -> list[str]:
    """Put the provider and both roles (which may use the state key `state_key_arn` only through S3); the
    lines bootstrap prints (the ARNs the repository needs)."""
    ci = env.ci
    assert ci is not None, "only called when the environment sets ci"
    provider, provider_created = ensure_oidc_provider(iam, account, partition)
    names = ci_policies.role_names(env)
    results = {
        "plan": ensure_role(
            iam,
            env=env,
            name=names["plan"],
            description=f"GitHub Actions plan for {ci.repository} pull requests: read-only (make bootstrap)",
            trust=ci_policies.trust_policy(provider, ci_policies.plan_subject(ci)),
            permissions=ci_policies.plan_permissions(env, account, partition, state_key_arn=state_key_arn),
            account=account,
            partition=partition,
        ),
        "deploy": ensure_role(
            iam,
            env=env,
            name=names["deploy"],
            description=f"GitHub Actions deploy of {env.name} from {ci.repository} {ci.deploy_branch} (make bootstrap)",
            trust=ci_policies.trust_policy(
                provider, ci_policies.deploy_subject(ci, env), ci_policies.deploy_claims(ci)
            ),
            permissions=ci_policies.deploy_permissions(env, account, partition, state_key_arn=state_key_arn),
            account=account,
            partition=partition,
        ),
    }
    lines = [f"{env.name}: GitHub OIDC provider {provider} {'created' if provider_created else 'already there'}"]
    for kind, result in results.items():
        state = (
            "created"
            if result.created
            else ("repaired: " + ", ".join(result.changed) if result.changed else "unchanged")
        )
        lines.append(f"{env.name}: {kind} role {result.arn} {state}")
    lines.append(
        f"{env.name}: set in {ci.repository} the repository variable AWS_PLAN_ROLE_ARN={results['plan'].arn} "
        f"and the {env.name} environment's variable AWS_DEPLOY_ROLE_ARN={results['deploy'].arn}"
    )
    return lines

"""An IAM role that an AWS service assumes, built up from grants only.

Used for every principal of ours: a Lambda function's execution role, API
Gateway's CloudWatch logging role. Every grant becomes one named inline
policy, so a snapshot diff shows which permission changed and `terraform plan`
touches only that policy. Resources that must not start before their
permissions exist (a function) register with `add_dependent`: they then depend
on every policy, including grants made after they were created.

Every role carries a permissions boundary (a required prop): the customer-managed policy `make bootstrap`
owns, which caps what any grant can give and denies IAM, Organizations and account writes. The deploy
role may create or change a role only with that boundary attached (operations/ci_policies.py), so no
grant, by these stacks or by a hostile change to them, can make a role an administrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cdktf import TerraformResource, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra_constructs.dependencies import add_dependency


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One IAM condition: test (e.g. StringLike), variable, values."""

    test: str
    variable: str
    values: tuple[str, ...]


class Grantable(Protocol):
    """Anything permissions can be granted to: a role, or a construct that owns one."""

    def grant(
        self, name: str, actions: Sequence[str], resources: Sequence[str], conditions: Sequence[Condition] = ()
    ) -> IamRolePolicy: ...


@dataclass(frozen=True, kw_only=True)
class ServiceRoleProps:
    role_name: str
    """Name of the IAM role."""
    permissions_boundary: str
    """ARN of the managed policy that caps the role's permissions (`permissions_boundary_arn`); required:
    the deploy role may create no role without it."""
    service_principal: str = "lambda.amazonaws.com"
    """The AWS service that assumes the role; left out: Lambda."""


class ServiceRole(Construct):
    """An IAM role for one AWS service principal that gains permissions only through `grant`."""

    def __init__(self, scope: Construct, id_: str, props: ServiceRoleProps) -> None:
        super().__init__(scope, id_)
        assume = DataAwsIamPolicyDocument(
            self,
            "assume-role-policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    actions=["sts:AssumeRole"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Service", identifiers=[props.service_principal]
                        )
                    ],
                )
            ],
        )
        self.role = IamRole(
            self,
            "role",
            name=props.role_name,
            assume_role_policy=assume.json,
            permissions_boundary=props.permissions_boundary,
        )
        self.arn: str = self.role.arn
        self.name: str = self.role.name
        self._policies: list[IamRolePolicy] = []
        self._dependents: list[TerraformResource] = []

    @property
    def policies(self) -> list[IamRolePolicy]:
        """Inline policies granted so far."""
        return list(self._policies)

    def add_dependent(self, resource: TerraformResource) -> None:
        """Make `resource` depend on every policy of this role, now and after later grants."""
        self._dependents.append(resource)
        for policy in self._policies:
            add_dependency(resource, policy)

    def grant(
        self, name: str, actions: Sequence[str], resources: Sequence[str], conditions: Sequence[Condition] = ()
    ) -> IamRolePolicy:
        """Allow `actions` on `resources` through one inline policy named `name`."""
        if not actions or any(a == "*" or a.endswith(":*") for a in actions):
            raise ValueError(f"grant {name!r}: actions must be explicit, got {list(actions)}")
        document = DataAwsIamPolicyDocument(
            self,
            f"{name}-document",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid=name.replace("-", "").title()[:100] or None,
                    effect="Allow",
                    actions=sorted(actions),
                    resources=list(resources),
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test=c.test, variable=c.variable, values=list(c.values)
                        )
                        for c in conditions
                    ]
                    or None,
                )
            ],
        )
        policy = IamRolePolicy(self, name, name=name, role=self.role.id, policy=document.json)
        self._policies.append(policy)
        for dependent in self._dependents:
            add_dependency(dependent, policy)
        return policy


def current_account(scope: Construct) -> tuple[DataAwsCallerIdentity, DataAwsPartition]:
    """The deploying account and its partition, read once per stack (data sources at the stack's root)."""
    stack = TerraformStack.of(scope)
    account = stack.node.try_find_child("current-account") or DataAwsCallerIdentity(stack, "current-account")
    partition = stack.node.try_find_child("current-partition") or DataAwsPartition(stack, "current-partition")
    assert isinstance(account, DataAwsCallerIdentity) and isinstance(partition, DataAwsPartition)
    return account, partition


def permissions_boundary_arn(scope: Construct, policy_name: str) -> str:
    """`arn:<partition>:iam::<deploying account>:policy/<policy_name>`: the boundary bootstrap made in the
    account the stack deploys to (no account id in the synthesized JSON)."""
    account, partition = current_account(scope)
    return f"arn:{partition.partition}:iam::{account.account_id}:policy/{policy_name}"

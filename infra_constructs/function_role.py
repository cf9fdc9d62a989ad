"""The function's execution role, built up from grants.

Every grant becomes one named inline policy, so a snapshot diff shows which
permission changed, and `terraform plan` touches only that policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One IAM condition: test (e.g. StringLike), variable, values."""

    test: str
    variable: str
    values: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FunctionRoleProps:
    role_name: str
    """Name of the IAM role."""
    service_principal: str = "lambda.amazonaws.com"
    """Who may assume the role; left out: Lambda."""


class FunctionRole(Construct):
    """An IAM role that only ever gains permissions through `grant`."""

    def __init__(self, scope: Construct, id_: str, props: FunctionRoleProps) -> None:
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
        self.role = IamRole(self, "role", name=props.role_name, assume_role_policy=assume.json)
        self._policies: list[IamRolePolicy] = []
        self._frozen_by: str | None = None

    @property
    def arn(self) -> str:
        return self.role.arn

    @property
    def policies(self) -> list[IamRolePolicy]:
        """Inline policies created so far (a function depends on them)."""
        return list(self._policies)

    def freeze(self, by: str) -> list[IamRolePolicy]:
        """No more grants: `by` (a function) now depends on exactly these policies."""
        self._frozen_by = by
        return self.policies

    def grant(
        self,
        name: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: Sequence[Condition] = (),
    ) -> IamRolePolicy:
        """Allow `actions` on `resources` through one inline policy named `name`."""
        if self._frozen_by:
            raise ValueError(f"grant {name!r} comes after {self._frozen_by} was created; grant before creating it")
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
        return policy

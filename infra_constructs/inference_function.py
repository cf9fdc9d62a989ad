"""The container-image Lambda that runs inference, with its role and log group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionEphemeralStorage,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
)
from constructs import Construct

from infra_constructs import perms
from infra_constructs.function_role import FunctionRole, FunctionRoleProps


@dataclass(frozen=True, kw_only=True)
class InferenceFunctionProps:
    function_name: str
    image_uri: str
    """Full image reference: <repository url>:<tag> or <repository url>@sha256:..."""
    memory_mb: int = 3008
    timeout_s: int = 900
    ephemeral_storage_mb: int = 2048
    architecture: str = "x86_64"
    reserved_concurrency: int = -1
    """-1 (left out): no reservation, the account's pool."""
    log_retention_days: int = 30
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables the service reads (names from inference.env_names)."""


class InferenceFunction(Construct):
    """Role from grants, a log group with retention, and the function itself.

    Callers add S3 grants through `role` before the function is synthesized;
    the function depends on every policy so it never starts without them.
    """

    def __init__(self, scope: Construct, id_: str, props: InferenceFunctionProps) -> None:
        super().__init__(scope, id_)
        self.role = FunctionRole(self, "execution-role", FunctionRoleProps(role_name=f"{props.function_name}-role"))
        self.log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=f"/aws/lambda/{props.function_name}",
            retention_in_days=props.log_retention_days,
        )
        self.role.grant("write-logs", perms.LOGS_WRITE, [f"{self.log_group.arn}:*"])
        # AWS offers no resource-level scoping for X-Ray segment uploads: "*" is the only valid resource.
        self.role.grant("xray-write", perms.XRAY_WRITE, ["*"])
        self._props = props
        self.function: LambdaFunction | None = None

    def create_function(self) -> LambdaFunction:
        """Create the function once every grant is in place."""
        props = self._props
        self.function = LambdaFunction(
            self,
            "function",
            function_name=props.function_name,
            role=self.role.arn,
            package_type="Image",
            image_uri=props.image_uri,
            architectures=[props.architecture],
            memory_size=props.memory_mb,
            timeout=props.timeout_s,
            ephemeral_storage=LambdaFunctionEphemeralStorage(size=props.ephemeral_storage_mb),
            reserved_concurrent_executions=props.reserved_concurrency,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            logging_config=LambdaFunctionLoggingConfig(log_format="JSON", log_group=self.log_group.name),
            environment=LambdaFunctionEnvironment(variables=dict(sorted(props.environment.items()))),
            depends_on=[self.log_group, *self.role.freeze(by=f"function {props.function_name}")],
        )
        return self.function

"""A container-image Lambda function with its execution role and log group, complete when constructed.

One image can serve several functions: each picks its handler with
`image_command`. Permissions come from grants on the function (or its
`role`); a grant made at any time still lands before the function can start,
because the function depends on every policy of its role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionEphemeralStorage,
    LambdaFunctionImageConfig,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
)
from constructs import Construct

from infra_constructs import perms
from infra_constructs.metric import Metric
from infra_constructs.service_role import ServiceRole, ServiceRoleProps


@dataclass(frozen=True, kw_only=True)
class ContainerFunctionProps:
    function_name: str
    """Also names the role (<name>-role) and the log group (/aws/lambda/<name>)."""
    image_uri: str
    """Full image reference: <repository url>:<tag> or <repository url>@sha256:..."""
    image_command: tuple[str, ...] = ()
    """The handler this function runs, e.g. ("service.worker.handler",); left out: the image's CMD."""
    memory_mb: int
    """128-10,240 MB; vCPUs scale with it."""
    timeout_s: int
    """Seconds per invocation (1-900)."""
    ephemeral_storage_mb: int
    """/tmp size in MB."""
    architecture: str
    """x86_64 or arm64; must match the image."""
    reserved_concurrency: int
    """Reserved concurrent executions; -1: unreserved (the account's pool)."""
    log_retention_days: int
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables the function reads (names from contract.env_names and contract.settings)."""
    kms_key_arn: str | None = None
    """Customer-managed key for the environment variables and the log group; left out: AWS-managed."""
    permissions_boundary_arn: str
    """The execution role's permissions boundary (ServiceRoleProps.permissions_boundary); required."""


class ContainerFunction(Construct):
    """Execution role (grants only), log group with retention, and the traced function, in one step."""

    def __init__(self, scope: Construct, id_: str, props: ContainerFunctionProps) -> None:
        super().__init__(scope, id_)
        self.role = ServiceRole(
            self,
            "execution-role",
            ServiceRoleProps(
                role_name=f"{props.function_name}-role", permissions_boundary=props.permissions_boundary_arn
            ),
        )
        self.log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=f"/aws/lambda/{props.function_name}",
            retention_in_days=props.log_retention_days,
            kms_key_id=props.kms_key_arn,
        )
        self.role.grant("write-logs", perms.LOGS_WRITE, [f"{self.log_group.arn}:*"])
        # AWS offers no resource-level scoping for X-Ray segment uploads: "*" is the only valid resource.
        self.role.grant("xray-write", perms.XRAY_WRITE, ["*"])
        self.function = LambdaFunction(
            self,
            "function",
            function_name=props.function_name,
            role=self.role.arn,
            package_type="Image",
            image_uri=props.image_uri,
            image_config=LambdaFunctionImageConfig(command=list(props.image_command)) if props.image_command else None,
            architectures=[props.architecture],
            memory_size=props.memory_mb,
            timeout=props.timeout_s,
            ephemeral_storage=LambdaFunctionEphemeralStorage(size=props.ephemeral_storage_mb),
            reserved_concurrent_executions=props.reserved_concurrency,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            logging_config=LambdaFunctionLoggingConfig(log_format="JSON", log_group=self.log_group.name),
            environment=LambdaFunctionEnvironment(variables=dict(sorted(props.environment.items()))),
            kms_key_arn=props.kms_key_arn,
            depends_on=[self.log_group],
        )
        self.role.add_dependent(self.function)
        self.function_name: str = self.function.function_name
        self.timeout_s = props.timeout_s
        self.invoke_arn: str = self.function.invoke_arn
        self.image_uri: str = self.function.image_uri
        # Grants go through the execution role; the function waits for every policy they create.
        self.grant = self.role.grant

    def metric(self, name: str, statistic: str = "Sum") -> Metric:
        """One of the metrics Lambda publishes for this function (AWS/Lambda, by FunctionName)."""
        return Metric(
            namespace="AWS/Lambda", name=name, dimensions=(("FunctionName", self.function_name),), statistic=statistic
        )

    def metric_invocations(self) -> Metric:
        return self.metric("Invocations")

    def metric_errors(self) -> Metric:
        """Invocations that ended in an error (the log has the traceback)."""
        return self.metric("Errors")

    def metric_throttles(self) -> Metric:
        """Invocations refused for lack of concurrency."""
        return self.metric("Throttles")

    def metric_duration(self, statistic: str = "Maximum") -> Metric:
        """Milliseconds per invocation."""
        return self.metric("Duration", statistic)

    def metric_concurrent_executions(self) -> Metric:
        return self.metric("ConcurrentExecutions", "Maximum")

    def add_sqs_source(
        self, id_: str, queue_arn: str, *, batch_size: int, maximum_concurrency: int
    ) -> LambdaEventSourceMapping:
        """Invoke the function with batches from the queue, reporting failed items one by one, at most
        `maximum_concurrency` invocations at once (2-1,000; at most the function's reserved concurrency,
        or the pollers are throttled and each throttled receive counts toward the queue's maxReceiveCount).

        The mapping waits for the role's policies: Lambda checks the queue permissions when it is created.
        """
        self.role.grant(f"{id_}-consume", perms.SQS_CONSUME, [queue_arn])
        batching = {"batch_size": batch_size, "function_response_types": ["ReportBatchItemFailures"]}
        mapping = LambdaEventSourceMapping(
            self,
            id_,
            function_name=self.function_name,
            event_source_arn=queue_arn,
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=maximum_concurrency),
            **batching,
        )
        self.role.add_dependent(mapping)
        return mapping

"""API Gateway REST API whose routes are data: `add_route("POST", "/predict", function)`.

Each route brings its nested resources (path parameters included), the Lambda
proxy integration, an invoke permission scoped to its method and path, and a
CORS preflight on its resource that lists that resource's methods; every part
joins the deployment's trigger, so any change redeploys the stage. The API
itself carries binary media types, CORS on the errors API Gateway answers
itself, JSON access logs, X-Ray, and optionally a usage plan per API consumer.

No API key is made here: a key's value would sit in Terraform state (aws_api_gateway_api_key.value is
stored whether set or generated), readable by whoever reads state. Keys are made, rotated and revoked
by the operator's command (operations/keys.py, `make keys`), which finds each consumer's usage plan by
its `Consumer` tag and shows a new value once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Protocol

from cdktf import Fn, TerraformResource, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_base_path_mapping import ApiGatewayBasePathMapping
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_domain_name import (
    ApiGatewayDomainName,
    ApiGatewayDomainNameEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_integration_response import ApiGatewayIntegrationResponse
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_response import ApiGatewayMethodResponse
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import (
    ApiGatewayRestApi,
    ApiGatewayRestApiEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage, ApiGatewayStageAccessLogSettings
from cdktf_cdktf_provider_aws.api_gateway_usage_plan import (
    ApiGatewayUsagePlan,
    ApiGatewayUsagePlanApiStages,
    ApiGatewayUsagePlanQuotaSettings,
    ApiGatewayUsagePlanThrottleSettings,
)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from infra_constructs.dependencies import address
from infra_constructs.metric import Metric
from infra_constructs.service_role import ServiceRole, ServiceRoleProps

# One JSON object per request in the access log (CloudWatch Logs Insights reads it as is).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integration.status",
        "errorMessage": "$context.error.message",
        "apiKeyId": "$context.identity.apiKeyId",
    },
    separators=(",", ":"),
)


ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
# A path segment: a literal, a path parameter {name}, or a greedy one {name+}.
_SEGMENT = re.compile(r"^([A-Za-z0-9._-]+|\{[A-Za-z_][A-Za-z0-9_]*\+?\})$")
_CLOUDWATCH_PUSH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
CONSUMER_TAG = "Consumer"
"""The tag naming a usage plan's consumer: how the operator's key command finds a consumer's plan."""


@dataclass(frozen=True, kw_only=True)
class GatewayResponse:
    """How the API answers an error API Gateway raises itself (it always carries the CORS headers)."""

    response_type: str
    """DEFAULT_4XX, DEFAULT_5XX, THROTTLED, MISSING_AUTHENTICATION_TOKEN, ..."""
    status_code: int | None = None
    """Left out: API Gateway's own status for that type."""
    body_template: str | None = None
    """application/json body template (VTL, $context.* available); left out: API Gateway's own body."""


@dataclass(frozen=True, kw_only=True)
class ConsumerPlan:
    """One API consumer: its usage plan's limits (its keys are the operator's: operations/keys.py)."""

    name: str
    throttle_rate_limit: float
    throttle_burst_limit: int
    quota_limit: int


@dataclass(frozen=True, kw_only=True)
class RestApiProps:
    api_name: str
    """Names the API and prefixes its usage plans, logging role and access log group."""
    title: str = "REST API"
    """The description starts with it, followed by the routes."""
    stage_name: str
    cors_allowed_origins: tuple[str, ...]
    """Origins answered by preflight and error responses; the first one is used where
    API Gateway can send a single static value (error responses)."""
    api_key_required: bool
    """Routes need x-api-key unless `add_route` says otherwise, and a usage plan per consumer is
    created (its keys are attached by the operator's command)."""
    consumer_plans: tuple[ConsumerPlan, ...] = ()
    """With api_key_required: a usage plan per consumer, tagged Consumer=<name>. Left out: one consumer,
    "default", with the throttle and quota below."""
    throttle_rate_limit: float
    """Usage plan steady-state requests per second (with an API key), where consumer_plans is left out."""
    throttle_burst_limit: int
    quota_limit: int
    """Usage plan requests per `quota_period` (with an API key)."""
    quota_period: str
    stage_throttle_rate_limit: float
    """Steady-state requests per second the stage serves in all (every method, keyed or not)."""
    stage_throttle_burst_limit: int
    log_retention_days: int
    """Access log retention."""
    custom_domain: str
    """Serve the stage at https://<custom_domain>/ (security policy TLS_1_2, regional) and disable the
    default execute-api endpoint; empty: the default endpoint."""
    certificate_arn: str
    """The regional ACM certificate of custom_domain; required with it."""
    manage_account_logging_role: bool
    """Set the region's API Gateway CloudWatch role (needed once per account and region
    for access logs)."""
    binary_media_types: tuple[str, ...] = ()
    """Content types passed to the functions base64-encoded (wildcards such as audio/* allowed), and
    returned as bytes when the client's Accept matches; left out: none (text only)."""
    cors_allow_headers: tuple[str, ...] = (
        "Content-Type",
        "X-Api-Key",
        "Authorization",
        "X-Amz-Date",
        "X-Amz-Security-Token",
    )
    """Request headers a browser may send (preflight and error responses)."""
    kms_key_arn: str | None = None
    """Customer-managed key for the access log group; left out: AWS-managed."""
    permissions_boundary_arn: str
    """The permissions boundary of the account logging role (ServiceRoleProps.permissions_boundary); required."""
    gateway_responses: tuple[GatewayResponse, ...] = (
        GatewayResponse(response_type="DEFAULT_4XX"),
        GatewayResponse(response_type="DEFAULT_5XX"),
    )
    """Errors API Gateway answers itself; each gets the CORS headers. Left out: the default 4XX and 5XX."""


@dataclass(frozen=True, kw_only=True)
class Route:
    """One method on one path, as the API serves it."""

    method: str
    path: str
    api_key_required: bool
    integration: str = "AWS_PROXY"
    """AWS_PROXY (a function) or MOCK (API Gateway answers itself)."""
    answer_sha256: str = ""
    """A MOCK route's static answer, hashed: the answer is part of the deployment's trigger, so a new
    answer (another model in /health) redeploys the stage instead of waiting for an unrelated change."""


class LambdaTarget(Protocol):
    """What a route needs of its function (a ContainerFunction or a provider LambdaFunction)."""

    function_name: str
    invoke_arn: str


class RestApi(Construct):
    """The API, its stage and logging at construction; routes with `add_route`."""

    def __init__(self, scope: Construct, id_: str, props: RestApiProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        self.routes: list[Route] = []
        self._resources: dict[str, ApiGatewayResource] = {}
        self._preflights: dict[str, ApiGatewayIntegrationResponse] = {}
        self._parts: list[TerraformResource] = []
        self._integration_uris: list[str] = []

        self.api = ApiGatewayRestApi(
            self,
            "api",
            name=props.api_name,
            binary_media_types=list(props.binary_media_types) or None,
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            disable_execute_api_endpoint=bool(props.custom_domain) or None,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        # Errors API Gateway answers itself (missing key, throttling, timeouts) carry CORS too.
        self._gateway_responses = [
            ApiGatewayGatewayResponse(
                self,
                f"gateway-response-{response.response_type.lower().replace('_', '-')}",
                rest_api_id=self.api.id,
                response_type=response.response_type,
                status_code=str(response.status_code) if response.status_code else None,
                response_templates={"application/json": response.body_template} if response.body_template else None,
            )
            for response in props.gateway_responses
        ]
        # A new deployment whenever the definition (settings, routes or any part) changes.
        self._deployment = ApiGatewayDeployment(
            self,
            "deployment",
            rest_api_id=self.api.id,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.access_log_group = CloudwatchLogGroup(
            self,
            "access-log-group",
            name=f"/aws/apigateway/{props.api_name}/{props.stage_name}/access",
            retention_in_days=props.log_retention_days,
            kms_key_id=props.kms_key_arn,
        )
        self.stage = ApiGatewayStage(
            self,
            "stage",
            rest_api_id=self.api.id,
            deployment_id=self._deployment.id,
            stage_name=props.stage_name,
            xray_tracing_enabled=True,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_log_group.arn, format=ACCESS_LOG_FORMAT
            ),
            depends_on=[self._account_logging_role()] if props.manage_account_logging_role else None,
        )
        self._execution_logging()
        self.domain = self._custom_domain() if props.custom_domain else None
        self.usage_plans = self._usage_plans() if props.api_key_required else {}
        """Each consumer's usage plan, by consumer name (none where no key is required)."""
        self._refresh()

    def add_route(
        self, method: str, path: str, function: LambdaTarget, *, api_key_required: bool | None = None
    ) -> ApiGatewayMethod:
        """Serve `method path` with `function` (Lambda proxy); `api_key_required` defaults to the API's."""
        method, route_id, key_required, resource_id, new_resources, api_method = self._new_method(
            method, path, api_key_required
        )
        integration = ApiGatewayIntegration(
            self,
            f"{route_id}-integration",
            rest_api_id=self.api.id,
            resource_id=resource_id,
            http_method=api_method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",  # Lambda is always invoked with POST
            uri=function.invoke_arn,
        )
        LambdaPermission(
            self,
            f"{route_id}-permission",
            statement_id=f"AllowApiGateway{method.title()}{_pascal(path)}"[:100],
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.api.execution_arn}/*/{method}{_arn_path(path)}",
        )
        self._integration_uris.append(integration.uri)
        self._add_parts(
            Route(method=method, path=path, api_key_required=key_required),
            resource_id,
            [*new_resources, api_method, integration],
        )
        return api_method

    def _new_method(
        self, method: str, path: str, api_key_required: bool | None
    ) -> tuple[str, str, bool, str, list[ApiGatewayResource], ApiGatewayMethod]:
        """A checked, new `method path` on its resource (made with its parents when missing): the upper-case
        method, its construct id, whether it needs a key, the resource id, the new resources, the method."""
        method = method.upper()
        if method not in ROUTE_METHODS:
            raise ValueError(f"route method {method!r} is invalid: allowed one of {ROUTE_METHODS}")
        _check_path(path)
        if any(r.method == method and r.path == path for r in self.routes):
            raise ValueError(f"route {method} {path} already exists")
        key_required = self._props.api_key_required if api_key_required is None else api_key_required
        resource_id, new_resources = self._resource(path)
        route_id = f"{_slug(path)}-{method.lower()}"
        api_method = ApiGatewayMethod(
            self,
            route_id,
            rest_api_id=self.api.id,
            resource_id=resource_id,
            http_method=method,
            authorization="NONE",
            api_key_required=key_required,
        )
        return method, route_id, key_required, resource_id, new_resources, api_method

    def _add_parts(self, route: Route, resource_id: str, parts: list[TerraformResource]) -> None:
        """Record a route with its parts (and its path's preflight, the first time), then redeploy."""
        self.routes.append(route)
        if route.path not in self._preflights:
            parts = [*parts, *self._preflight(route.path, resource_id)]
        self._parts += parts
        self._refresh()

    def metric(self, name: str, statistic: str = "Sum") -> Metric:
        """One of the metrics API Gateway publishes for this API's stage (AWS/ApiGateway, by ApiName, Stage)."""
        dimensions = (("ApiName", self.api.name), ("Stage", self.stage.stage_name))
        return Metric(namespace="AWS/ApiGateway", name=name, dimensions=dimensions, statistic=statistic)

    def metric_count(self) -> Metric:
        return self.metric("Count")

    def metric_client_errors(self, statistic: str = "Sum") -> Metric:
        """4XX answers; their Average is the share of requests that got one."""
        return self.metric("4XXError", statistic)

    def metric_server_errors(self, statistic: str = "Sum") -> Metric:
        """5XX answers; their Average is the share of requests that got one."""
        return self.metric("5XXError", statistic)

    def metric_latency(self, statistic: str = "p99") -> Metric:
        """Milliseconds from receiving a request to answering it."""
        return self.metric("Latency", statistic)

    def metric_integration_latency(self, statistic: str = "p99") -> Metric:
        """Milliseconds the function took, as API Gateway saw it."""
        return self.metric("IntegrationLatency", statistic)

    def add_mock_route(
        self, method: str, path: str, *, body: str, api_key_required: bool | None = None
    ) -> ApiGatewayMethod:
        """Answer `method path` from API Gateway itself (a MOCK integration): 200 with the static JSON
        `body` and the request id, no function invoked, so it costs no function concurrency."""
        json.loads(body)  # a static answer must be JSON: fail at synth, not on the first request
        method, route_id, key_required, resource_id, new_resources, api_method = self._new_method(
            method, path, api_key_required
        )
        on_method = {"rest_api_id": self.api.id, "resource_id": resource_id, "http_method": api_method.http_method}
        integration = ApiGatewayIntegration(
            self,
            f"{route_id}-integration",
            **on_method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
        )
        headers = ("X-Request-Id", "Access-Control-Allow-Origin")
        response = ApiGatewayMethodResponse(
            self,
            f"{route_id}-200",
            **on_method,
            status_code="200",
            response_parameters={f"method.response.header.{h}": True for h in headers},
            response_models={"application/json": "Empty"},
        )
        integration_response = ApiGatewayIntegrationResponse(
            self,
            f"{route_id}-integration-200",
            **on_method,
            status_code=response.status_code,
            response_parameters={
                "method.response.header.X-Request-Id": "context.requestId",
                "method.response.header.Access-Control-Allow-Origin": _quoted(self._props.cors_allowed_origins[0]),
            },
            response_templates={"application/json": body},
            depends_on=[integration],
        )
        self._add_parts(
            Route(
                method=method,
                path=path,
                api_key_required=key_required,
                integration="MOCK",
                answer_sha256=hashlib.sha256(body.encode()).hexdigest(),
            ),
            resource_id,
            [*new_resources, api_method, integration, response, integration_response],
        )
        return api_method

    def url_for(self, path: str) -> str:
        """The invoke URL of `path` on the stage (through the custom domain where there is one)."""
        if self._props.custom_domain:
            return f"https://{self._props.custom_domain}{path}"
        return f"{self.stage.invoke_url}{path}"

    def methods_of(self, path: str) -> list[str]:
        """The methods a path answers, OPTIONS (its preflight) included, sorted."""
        return sorted({r.method for r in self.routes if r.path == path} | {"OPTIONS"})

    # --- parts ---------------------------------------------------------------
    def _resource(self, path: str) -> tuple[str, list[ApiGatewayResource]]:
        """The resource id of `path`, creating missing resources (parents first)."""
        parent_id, created = self.api.root_resource_id, []
        segments = [s for s in path.split("/") if s]
        for depth in range(1, len(segments) + 1):
            sub_path = "/" + "/".join(segments[:depth])
            if sub_path not in self._resources:
                resource = ApiGatewayResource(
                    self,
                    f"{_slug(sub_path)}-resource",
                    rest_api_id=self.api.id,
                    parent_id=parent_id,
                    path_part=segments[depth - 1],
                )
                self._resources[sub_path] = resource
                created.append(resource)
            parent_id = self._resources[sub_path].id
        return parent_id, created

    def _preflight(self, path: str, resource_id: str) -> list[TerraformResource]:
        """OPTIONS on `path`: a mock integration, never behind an API key, never invoking a function."""
        slug = _slug(path)
        options = ApiGatewayMethod(
            self,
            f"{slug}-options",
            rest_api_id=self.api.id,
            resource_id=resource_id,
            http_method="OPTIONS",
            authorization="NONE",
            api_key_required=False,
        )
        on_options = {"rest_api_id": self.api.id, "resource_id": resource_id, "http_method": options.http_method}
        integration = ApiGatewayIntegration(
            self,
            f"{slug}-options-integration",
            **on_options,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
        )
        response = ApiGatewayMethodResponse(
            self,
            f"{slug}-options-200",
            **on_options,
            status_code="200",
            response_parameters={f"method.response.header.{h}": True for h in self._cors_headers(path)},
            response_models={"application/json": "Empty"},
        )
        integration_response = ApiGatewayIntegrationResponse(
            self,
            f"{slug}-options-integration-200",
            **on_options,
            status_code=response.status_code,
            response_templates={"application/json": _preflight_template(self._props.cors_allowed_origins)},
            depends_on=[integration],
        )
        self._preflights[path] = integration_response
        return [options, integration, response, integration_response]

    @property
    def execution_log_group_name(self) -> str:
        """The name API Gateway gives the stage's execution logs (its API's id and the stage): fixed by
        the service, so it carries no environment prefix."""
        return f"API-Gateway-Execution-Logs_{self.api.id}/{self._props.stage_name}"

    def _execution_logging(self) -> None:
        """INFO execution logs, CloudWatch metrics and the stage's throttle for every method (the usage
        plan limits only keyed calls), logs into a log group made here (API Gateway would otherwise create
        it without retention or encryption)."""
        props = self._props
        execution_logs = CloudwatchLogGroup(
            self,
            "execution-log-group",
            name=self.execution_log_group_name,
            retention_in_days=props.log_retention_days,
            kms_key_id=props.kms_key_arn,
        )
        ApiGatewayMethodSettings(
            self,
            "method-settings",
            rest_api_id=self.api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=ApiGatewayMethodSettingsSettings(
                logging_level="INFO",
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=props.stage_throttle_rate_limit,
                throttling_burst_limit=props.stage_throttle_burst_limit,
            ),
            depends_on=[execution_logs],
        )

    def _custom_domain(self) -> ApiGatewayDomainName:
        """The stage at the root of a custom domain that accepts TLS 1.2 or newer only."""
        props = self._props
        domain = ApiGatewayDomainName(
            self,
            "domain",
            domain_name=props.custom_domain,
            regional_certificate_arn=props.certificate_arn,
            endpoint_configuration=ApiGatewayDomainNameEndpointConfiguration(types=["REGIONAL"]),
            security_policy="TLS_1_2",
        )
        ApiGatewayBasePathMapping(
            self,
            "base-path-mapping",
            api_id=self.api.id,
            stage_name=self.stage.stage_name,
            domain_name=domain.domain_name,
        )
        return domain

    def _account_logging_role(self) -> ApiGatewayAccount:
        """The region's CloudWatch role for API Gateway, which access logging needs."""
        role = ServiceRole(
            self,
            "cloudwatch-role",
            ServiceRoleProps(
                role_name=f"{self._props.api_name}-apigw-logs",
                service_principal="apigateway.amazonaws.com",
                permissions_boundary=self._props.permissions_boundary_arn,
            ),
        )
        attachment = IamRolePolicyAttachment(
            self, "cloudwatch-role-policy", role=role.name, policy_arn=_CLOUDWATCH_PUSH_POLICY
        )
        # reset_on_delete: a destroy clears the account setting too, instead of leaving it naming the
        # role the same destroy deletes.
        return ApiGatewayAccount(
            self, "account", cloudwatch_role_arn=role.arn, reset_on_delete=True, depends_on=[attachment]
        )

    def _usage_plans(self) -> dict[str, ApiGatewayUsagePlan]:
        """A usage plan per consumer, tagged with its name: limits apply per consumer, and the operator's
        command attaches, rotates and revokes each consumer's keys on it (no key value in state)."""
        props = self._props
        plans = props.consumer_plans or (
            ConsumerPlan(
                name="default",
                throttle_rate_limit=props.throttle_rate_limit,
                throttle_burst_limit=props.throttle_burst_limit,
                quota_limit=props.quota_limit,
            ),
        )
        usage_plans: dict[str, ApiGatewayUsagePlan] = {}
        for consumer in plans:
            usage_plans[consumer.name] = ApiGatewayUsagePlan(
                self,
                f"usage-plan-{consumer.name}",
                name=f"{props.api_name}-{consumer.name}-plan",
                api_stages=[ApiGatewayUsagePlanApiStages(api_id=self.api.id, stage=self.stage.stage_name)],
                throttle_settings=ApiGatewayUsagePlanThrottleSettings(
                    rate_limit=consumer.throttle_rate_limit, burst_limit=consumer.throttle_burst_limit
                ),
                quota_settings=ApiGatewayUsagePlanQuotaSettings(limit=consumer.quota_limit, period=props.quota_period),
                tags={CONSUMER_TAG: consumer.name},
            )
        return usage_plans

    # --- what depends on the whole route table ---------------------------------
    def _cors_headers(self, path: str | None) -> dict[str, str]:
        """CORS headers for one path's preflight, or (None) for the API's own error responses."""
        methods = self.methods_of(path) if path is not None else sorted({r.method for r in self.routes} | {"OPTIONS"})
        return {
            "Access-Control-Allow-Origin": _quoted(self._props.cors_allowed_origins[0]),
            "Access-Control-Allow-Headers": _quoted(",".join(self._props.cors_allow_headers)),
            "Access-Control-Allow-Methods": _quoted(",".join(methods)),
        }

    def _refresh(self) -> None:
        """Bring everything that lists the routes up to date after a change to them."""
        routes = ", ".join(f"{r.method} {r.path}" for r in self.routes) or "no routes yet"
        self.api.description = f"{self._props.title}: {routes}"
        for path, integration_response in self._preflights.items():
            integration_response.response_parameters = {
                f"method.response.header.{h}": v for h, v in self._cors_headers(path).items()
            }
        for response in self._gateway_responses:
            response.response_parameters = {
                f"gatewayresponse.header.{h}": v for h, v in self._cors_headers(None).items()
            }
        parts = [*self._parts, *self._gateway_responses]
        # References (the key's ARN) are unresolved tokens here, numbered by creation order: hashing them
        # would redeploy the API whenever unrelated code created one more token. Their changes reach the
        # stage through the resources' ids below; the definition records only that one is set.
        settings = {
            k: "<reference>" if isinstance(v, str) and Token.is_unresolved(v) else v
            for k, v in asdict(self._props).items()
        }
        definition = {**settings, "routes": [asdict(r) for r in self.routes]}
        self._deployment.triggers = {
            "definition": hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest(),
            "resources": Fn.sha1(Fn.jsonencode([p.id for p in parts] + self._integration_uris)),
        }
        self._deployment.depends_on = [address(p) for p in parts]


def _check_path(path: str) -> None:
    segments = path.split("/")[1:]
    ok = path.startswith("/") and (path == "/" or all(_SEGMENT.match(s) for s in segments))
    if not ok:
        raise ValueError(
            f"route path {path!r} is invalid: allowed '/' or /segment/... where a segment is "
            "letters, digits, '.', '_', '-', or a parameter such as {job_id}"
        )


def _slug(path: str) -> str:
    """Construct-id form of a path: /jobs/{job_id} -> jobs-by-job_id (ids are a contract: keep stable)."""
    parts = [f"by-{s.strip('{}+')}" if s.startswith("{") else s for s in path.split("/") if s]
    return "-".join(parts) or "root"


def _pascal(path: str) -> str:
    """/jobs/{job_id} -> JobsJobId (for statement ids)."""
    words = re.split(r"[^A-Za-z0-9]+", path)
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Root"


def _arn_path(path: str) -> str:
    """The path as execute-api ARNs match it: every parameter is a wildcard."""
    return re.sub(r"\{[^}]*\}", "*", path)


def _quoted(value: str) -> str:
    """API Gateway wants static header values in single quotes."""
    return f"'{value}'"


def _preflight_template(origins: tuple[str, ...]) -> str:
    """VTL for the OPTIONS mock: echo the request's Origin when it is allowed."""
    if origins == ("*",):
        return '{"statusCode": 200}'
    allowed = json.dumps(list(origins))
    return (
        f"#set($allowed = {allowed})\n"
        '#set($origin = $input.params("origin"))\n'
        "#if($allowed.contains($origin))\n"
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n"
        "#end\n"
        '{"statusCode": 200}'
    )

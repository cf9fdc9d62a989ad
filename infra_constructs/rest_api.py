"""API Gateway REST API: POST /predict through a Lambda proxy, CORS, keys, logs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_api_key import ApiGatewayApiKey
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_integration_response import ApiGatewayIntegrationResponse
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_response import ApiGatewayMethodResponse
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
from cdktf_cdktf_provider_aws.api_gateway_usage_plan_key import ApiGatewayUsagePlanKey
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from infra_constructs.function_role import FunctionRole, FunctionRoleProps

# Request bodies API Gateway passes to the function as binary (base64).
BINARY_MEDIA_TYPES = (
    "multipart/form-data",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp3",
    "application/octet-stream",
)
CORS_ALLOW_HEADERS = "Content-Type,X-Api-Key,Authorization,X-Amz-Date,X-Amz-Security-Token"
CORS_ALLOW_METHODS = "OPTIONS,POST"

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


@dataclass(frozen=True, kw_only=True)
class RestApiProps:
    api_name: str
    stage_name: str = "v1"
    cors_allowed_origins: tuple[str, ...] = ("*",)
    """Origins answered by preflight and error responses; the first one is used where
    API Gateway can send a single static value (error responses)."""
    api_key_required: bool = True
    """Require x-api-key on POST /predict and create a key and usage plan; left out: required."""
    throttle_rate_limit: float = 10.0
    throttle_burst_limit: int = 20
    quota_limit: int = 10_000
    quota_period: str = "DAY"
    log_retention_days: int = 30
    manage_account_logging_role: bool = True
    """Set the region's API Gateway CloudWatch role (needed once per account and region
    for access logs); left out: set."""


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


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        props: RestApiProps,
        *,
        function_name: str,
        function_invoke_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        self.api = ApiGatewayRestApi(
            self,
            "api",
            name=props.api_name,
            description="Audio inference: POST /predict with multipart audio",
            binary_media_types=list(BINARY_MEDIA_TYPES),
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
        )
        predict = ApiGatewayResource(
            self, "predict-resource", rest_api_id=self.api.id, parent_id=self.api.root_resource_id, path_part="predict"
        )

        post = ApiGatewayMethod(
            self,
            "predict-post",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method="POST",
            authorization="NONE",
            api_key_required=props.api_key_required,
        )
        post_integration = ApiGatewayIntegration(
            self,
            "predict-post-integration",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method=post.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=function_invoke_arn,
        )

        cors_origin = props.cors_allowed_origins[0]
        cors_headers = {
            "Access-Control-Allow-Origin": _quoted(cors_origin),
            "Access-Control-Allow-Headers": _quoted(CORS_ALLOW_HEADERS),
            "Access-Control-Allow-Methods": _quoted(CORS_ALLOW_METHODS),
        }
        # Preflight: a mock integration, never behind an API key, never invoking the function.
        options = ApiGatewayMethod(
            self,
            "predict-options",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method="OPTIONS",
            authorization="NONE",
            api_key_required=False,
        )
        options_integration = ApiGatewayIntegration(
            self,
            "predict-options-integration",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method=options.http_method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
        )
        options_response = ApiGatewayMethodResponse(
            self,
            "predict-options-200",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method=options.http_method,
            status_code="200",
            response_parameters={f"method.response.header.{h}": True for h in cors_headers},
            response_models={"application/json": "Empty"},
        )
        options_integration_response = ApiGatewayIntegrationResponse(
            self,
            "predict-options-integration-200",
            rest_api_id=self.api.id,
            resource_id=predict.id,
            http_method=options.http_method,
            status_code=options_response.status_code,
            response_parameters={f"method.response.header.{h}": v for h, v in cors_headers.items()},
            response_templates={"application/json": _preflight_template(props.cors_allowed_origins)},
            depends_on=[options_integration],
        )
        # Errors API Gateway answers itself (missing key, throttling, timeouts) carry CORS too.
        gateway_responses = [
            ApiGatewayGatewayResponse(
                self,
                f"gateway-response-{kind.lower().replace('_', '-')}",
                rest_api_id=self.api.id,
                response_type=kind,
                response_parameters={f"gatewayresponse.header.{h}": v for h, v in cors_headers.items()},
            )
            for kind in ("DEFAULT_4XX", "DEFAULT_5XX")
        ]

        LambdaPermission(
            self,
            "invoke-permission",
            statement_id="AllowApiGatewayInvokePredict",
            action="lambda:InvokeFunction",
            function_name=function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.api.execution_arn}/*/POST/predict",
        )

        definition = hashlib.sha256(
            json.dumps({**asdict(props), "binary": BINARY_MEDIA_TYPES}, sort_keys=True).encode()
        ).hexdigest()
        parts = [predict, post, post_integration, options, options_integration, options_response,
                 options_integration_response, *gateway_responses]
        # A new deployment whenever the definition (settings or any resource) changes.
        deployment = ApiGatewayDeployment(
            self,
            "deployment",
            rest_api_id=self.api.id,
            triggers={
                "definition": definition,
                "resources": Fn.sha1(Fn.jsonencode([p.id for p in parts] + [post_integration.uri])),
            },
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=parts,
        )

        self.access_log_group = CloudwatchLogGroup(
            self,
            "access-log-group",
            name=f"/aws/apigateway/{props.api_name}/{props.stage_name}/access",
            retention_in_days=props.log_retention_days,
        )
        stage_depends = []
        if props.manage_account_logging_role:
            logging_role = FunctionRole(
                self,
                "cloudwatch-role",
                FunctionRoleProps(role_name=f"{props.api_name}-apigw-logs", service_principal="apigateway.amazonaws.com"),
            )
            attachment = IamRolePolicyAttachment(
                self,
                "cloudwatch-role-policy",
                role=logging_role.role.name,
                policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )
            account = ApiGatewayAccount(
                self, "account", cloudwatch_role_arn=logging_role.arn, depends_on=[attachment]
            )
            stage_depends.append(account)
        self.stage = ApiGatewayStage(
            self,
            "stage",
            rest_api_id=self.api.id,
            deployment_id=deployment.id,
            stage_name=props.stage_name,
            xray_tracing_enabled=True,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_log_group.arn, format=ACCESS_LOG_FORMAT
            ),
            depends_on=stage_depends or None,
        )
        self.predict_url = f"{self.stage.invoke_url}/predict"

        self.api_key: ApiGatewayApiKey | None = None
        if props.api_key_required:
            self.api_key = ApiGatewayApiKey(self, "api-key", name=f"{props.api_name}-key", enabled=True)
            plan = ApiGatewayUsagePlan(
                self,
                "usage-plan",
                name=f"{props.api_name}-plan",
                api_stages=[ApiGatewayUsagePlanApiStages(api_id=self.api.id, stage=self.stage.stage_name)],
                throttle_settings=ApiGatewayUsagePlanThrottleSettings(
                    rate_limit=props.throttle_rate_limit, burst_limit=props.throttle_burst_limit
                ),
                quota_settings=ApiGatewayUsagePlanQuotaSettings(limit=props.quota_limit, period=props.quota_period),
            )
            ApiGatewayUsagePlanKey(
                self, "usage-plan-key", key_id=self.api_key.id, key_type="API_KEY", usage_plan_id=plan.id
            )

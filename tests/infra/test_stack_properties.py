"""Properties of the synthesized stacks, including every dev/prod difference."""

from __future__ import annotations

import json

import pytest

from config.environments import DEV, PROD, S3StateBackend
from inference.config import load_config
from inference.pinned import BASIC_PITCH
from service import contract
from service.settings import ServiceSettings
from tests.support.stacks import one_resource, policy_statements, resources_of

pytestmark = pytest.mark.slow


# --- buckets ---------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("bucket", ["input-bucket", "output-bucket"])
def test_every_bucket_is_private_encrypted_and_tls_only(stacks, env, bucket):
    stack = stacks[f"inference-{env}"]
    pab = one_resource(stack, "aws_s3_bucket_public_access_block", f"{bucket}/public-access-block")
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    ownership = one_resource(stack, "aws_s3_bucket_ownership_controls", f"{bucket}/ownership")
    assert ownership["rule"]["object_ownership"] == "BucketOwnerEnforced"
    sse = one_resource(stack, "aws_s3_bucket_server_side_encryption_configuration", f"{bucket}/encryption")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    (deny,) = policy_statements(stack, f"{bucket}/tls-only-policy")
    assert deny["effect"] == "Deny"
    assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    policy = one_resource(stack, "aws_s3_bucket_policy", f"{bucket}/policy")
    assert any("public-access-block" in d for d in policy["depends_on"])
    lifecycle = one_resource(stack, "aws_s3_bucket_lifecycle_configuration", f"{bucket}/lifecycle")
    abort = [r for r in lifecycle["rule"] if r["id"] == "abort-incomplete-multipart-uploads"]
    assert abort[0]["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 1}]


@pytest.mark.parametrize("env, days", [("dev", 3), ("prod", 7)])
def test_input_uploads_expire_per_environment(stacks, env, days):
    lifecycle = one_resource(
        stacks[f"inference-{env}"], "aws_s3_bucket_lifecycle_configuration", "input-bucket/lifecycle"
    )
    (rule,) = [r for r in lifecycle["rule"] if r["id"] == "expire-uploads"]
    assert rule["expiration"] == [{"days": days}]
    assert rule["filter"] == [{"prefix": "uploads/"}]


@pytest.mark.parametrize("env, days", [("dev", 7), ("prod", 30)])
def test_output_is_versioned_and_noncurrent_versions_expire(stacks, env, days):
    stack = stacks[f"inference-{env}"]
    versioning = one_resource(stack, "aws_s3_bucket_versioning", "output-bucket/versioning")
    assert versioning["versioning_configuration"]["status"] == "Enabled"
    lifecycle = one_resource(stack, "aws_s3_bucket_lifecycle_configuration", "output-bucket/lifecycle")
    (rule,) = [r for r in lifecycle["rule"] if r["id"] == "expire-noncurrent-versions"]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": days}]
    assert not resources_of(stack, "aws_s3_bucket_versioning").keys() - {
        k for k, v in resources_of(stack, "aws_s3_bucket_versioning").items() if "output-bucket" in k
    }, "only the output bucket is versioned"


@pytest.mark.parametrize("env, origins", [("dev", ["*"]), ("prod", list(PROD.api.cors_allowed_origins))])
def test_bucket_cors_uses_environment_origins(stacks, env, origins):
    cors = one_resource(stacks[f"inference-{env}"], "aws_s3_bucket_cors_configuration", "input-bucket/cors")
    assert cors["cors_rule"][0]["allowed_origins"] == origins
    assert set(cors["cors_rule"][0]["allowed_methods"]) == {"POST", "PUT"}


# --- registry --------------------------------------------------------------
@pytest.mark.parametrize("env, mutability, keep", [("dev", "MUTABLE", 5), ("prod", "IMMUTABLE", 20)])
def test_registry_scans_encrypts_and_expires_images(stacks, env, mutability, keep):
    stack = stacks[f"inference-{env}-registry"]
    repo = one_resource(stack, "aws_ecr_repository")
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["image_tag_mutability"] == mutability
    assert repo["encryption_configuration"] == [{"encryption_type": "AES256"}]
    rules = json.loads(one_resource(stack, "aws_ecr_lifecycle_policy")["policy"])["rules"]
    untagged, tagged = sorted(rules, key=lambda r: r["rulePriority"])
    assert untagged["selection"]["tagStatus"] == "untagged"
    assert untagged["selection"]["countType"] == "sinceImagePushed"
    assert tagged["selection"]["tagStatus"] == "tagged"
    assert tagged["selection"]["countNumber"] == keep
    assert set(stack["output"]) == {"repository_url", "repository_name"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_registry_is_its_own_stack_and_not_needed_to_plan(stacks, env):
    stack = stacks[f"inference-{env}"]
    assert not resources_of(stack, "aws_ecr_repository")
    assert "aws_ecr_repository" not in stack["data"], "a lookup would fail to plan before the registry exists"


# --- function --------------------------------------------------------------
@pytest.mark.parametrize("env, concurrency", [("dev", 2), ("prod", 20)])
def test_function_is_a_traced_container_image(stacks, env, concurrency):
    fn = one_resource(stacks[f"inference-{env}"], "aws_lambda_function")
    assert fn["package_type"] == "Image"
    settings = DEV if env == "dev" else PROD
    assert fn["image_uri"] == (
        "${data.aws_caller_identity.current-account.account_id}.dkr.ecr.us-east-1."
        f"${{data.aws_partition.current-partition.dns_suffix}}/{settings.repository_name}:{settings.function.image_tag}"
    )
    assert fn["image_config"] == {"command": ["service.handler.handler"]}
    assert fn["memory_size"] == 3008
    assert fn["timeout"] == 30, "just above API Gateway's 29 s"
    assert fn["ephemeral_storage"] == {"size": 2048}
    assert fn["architectures"] == ["x86_64"]
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["reserved_concurrent_executions"] == concurrency
    assert fn["logging_config"]["log_format"] == "JSON"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_function_environment_carries_the_inference_config(stacks, env):
    variables = one_resource(stacks[f"inference-{env}"], "aws_lambda_function")["environment"]["variables"]
    inference = load_config(environ={}).to_environment()
    service = ServiceSettings.from_environment(variables)
    assert set(variables) == set(inference) | set(service.to_environment()), "every variable has a reader"
    for name, value in inference.items():
        assert variables[name] == value, name
    settings = DEV if env == "dev" else PROD
    assert service.environment == env
    assert service.input_bucket == "${aws_s3_bucket.input-bucket_5DD4D8B1.bucket}"
    assert (service.input_prefix, service.output_prefix) == (
        settings.storage.input_prefix,
        settings.storage.output_prefix,
    )
    assert service.cors_allowed_origins == settings.api.cors_allowed_origins
    assert service.log_level == settings.function.log_level


@pytest.mark.parametrize("env, days", [("dev", 7), ("prod", 30)])
def test_log_groups_keep_logs_per_environment(stacks, env, days):
    groups = resources_of(stacks[f"inference-{env}"], "aws_cloudwatch_log_group").values()
    names = {g["name"]: g["retention_in_days"] for g in groups}
    assert names[f"/aws/lambda/audio-inference-{env}-predict"] == days
    assert names[f"/aws/apigateway/audio-inference-{env}-api/v1/access"] == days


# --- IAM -------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_role_permissions_come_from_scoped_grants(stacks, env):
    stack = stacks[f"inference-{env}"]
    docs = {
        d["//"]["metadata"]["path"].split("/")[-1]: d["statement"]
        for d in stack["data"]["aws_iam_policy_document"].values()
        if "execution-role/" in d["//"]["metadata"]["path"] and "assume" not in d["//"]["metadata"]["path"]
    }
    assert set(docs) == {
        "write-logs-document",
        "xray-write-document",
        "input-bucket-objects-document",
        "input-bucket-list-document",
        "output-bucket-objects-document",
        "output-bucket-list-document",
    }
    for name, (statement,) in docs.items():
        assert statement["effect"] == "Allow"
        for action in statement["actions"]:
            assert action != "*" and not action.endswith(":*"), (name, action)
        if name != "xray-write-document":
            assert "*" not in statement["resources"], name
    assert docs["input-bucket-objects-document"][0]["resources"] == [
        "${aws_s3_bucket.input-bucket_5DD4D8B1.arn}/uploads/*"
    ]
    assert docs["output-bucket-objects-document"][0]["resources"] == [
        "${aws_s3_bucket.output-bucket_A36D79CA.arn}/results/*"
    ]
    assert docs["input-bucket-list-document"][0]["condition"][0]["values"] == ["uploads/*"]
    assert docs["xray-write-document"][0]["resources"] == ["*"]
    assert "DeleteObject" not in json.dumps(docs)


def test_model_bucket_grant_is_read_only_on_its_prefix():
    """With a model bucket configured, the role may read only that prefix."""
    import dataclasses

    from cdktf import Testing

    from config.environments import ModelStoreSettings
    from inference.config import InferenceConfig
    from stacks import InferenceStack

    env = dataclasses.replace(DEV, model_store=ModelStoreSettings(bucket="team-models", prefix="bp/0.4.0/"))
    stack = InferenceStack(Testing.app(), env, InferenceConfig())
    synthesized = json.loads(Testing.synth(stack))
    (model_read,) = [
        d["statement"][0]
        for key, d in synthesized["data"]["aws_iam_policy_document"].items()
        if "model-bucket-objects-document" in key
    ]
    assert model_read["resources"] == ["arn:aws:s3:::team-models/bp/0.4.0/*"]
    assert set(model_read["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    (fn,) = synthesized["resource"]["aws_lambda_function"].values()
    assert fn["environment"]["variables"]["INFERENCE_MODEL_URI"] == f"s3://team-models/bp/0.4.0/{BASIC_PITCH.filename}"


# --- API -------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_route_is_a_lambda_proxy_with_binary_media_types(stacks, env):
    stack = stacks[f"inference-{env}"]
    api = one_resource(stack, "aws_api_gateway_rest_api")
    assert api["binary_media_types"] == list(contract.BINARY_MEDIA_TYPES)
    assert {r["path_part"] for r in resources_of(stack, "aws_api_gateway_resource").values()} == {"predict", "health"}
    for route in contract.ROUTES:
        slug = f"{route.path.strip('/')}-{route.method.lower()}"
        integration = one_resource(stack, "aws_api_gateway_integration", f"{slug}-integration")
        assert integration["type"] == "AWS_PROXY" and integration["integration_http_method"] == "POST"
        assert integration["uri"] == "${aws_lambda_function.inference-function_DF3117D1.invoke_arn}"
        permission = one_resource(stack, "aws_lambda_permission", f"{slug}-permission")
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["source_arn"].endswith(f"/*/{route.method}{route.path}")
    assert stack["output"]["predict_url"]["value"].endswith(".invoke_url}/predict")


@pytest.mark.parametrize("env, key_required", [("dev", False), ("prod", True)])
def test_api_key_and_usage_plan_per_environment(stacks, env, key_required):
    stack = stacks[f"inference-{env}"]
    post = one_resource(stack, "aws_api_gateway_method", "predict-post")
    assert post["api_key_required"] is key_required
    assert one_resource(stack, "aws_api_gateway_method", "health-get")["api_key_required"] is False
    for options in ("predict-options", "health-options"):
        assert one_resource(stack, "aws_api_gateway_method", options)["api_key_required"] is False, options
    assert bool(resources_of(stack, "aws_api_gateway_api_key")) is key_required
    assert bool(resources_of(stack, "aws_api_gateway_usage_plan")) is key_required
    assert ("api_key_value" in stack["output"]) is key_required
    if key_required:
        assert stack["output"]["api_key_value"]["sensitive"] is True
        plan = one_resource(stack, "aws_api_gateway_usage_plan")
        assert plan["throttle_settings"] == {"rate_limit": 20, "burst_limit": 40}
        assert plan["quota_settings"] == {"limit": 50000, "period": "DAY"}
        assert one_resource(stack, "aws_api_gateway_usage_plan_key")["key_type"] == "API_KEY"


@pytest.mark.parametrize("env, origin", [("dev", "'*'"), ("prod", "'https://app.example.com'")])
def test_cors_on_preflight_and_gateway_errors(stacks, env, origin):
    stack = stacks[f"inference-{env}"]
    for path in ("predict", "health"):
        response = one_resource(stack, "aws_api_gateway_integration_response", f"{path}-options-integration-200")
        assert response["response_parameters"]["method.response.header.Access-Control-Allow-Origin"] == origin
    kinds = {r["response_type"]: r for r in resources_of(stack, "aws_api_gateway_gateway_response").values()}
    assert set(kinds) == set(contract.GATEWAY_ERRORS)
    for gateway_response in kinds.values():
        params = gateway_response["response_parameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == origin
        assert params["gatewayresponse.header.Access-Control-Allow-Headers"] == (
            f"'{','.join(contract.CORS_ALLOW_HEADERS)}'"
        )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_errors_api_gateway_answers_itself_have_the_services_json_shape(stacks, env):
    kinds = {
        r["response_type"]: r
        for r in resources_of(stacks[f"inference-{env}"], "aws_api_gateway_gateway_response").values()
    }
    for kind, error in contract.GATEWAY_ERRORS.items():
        template = kinds[kind]["response_templates"]["application/json"]
        rendered = template.replace("$context.requestId", "req-1").replace(
            "$context.error.messageString", '"the gateway\'s message"'
        )
        body = json.loads(rendered)
        assert body["error"]["code"] == error.code and body["error"]["request_id"] == "req-1", kind
        assert kinds[kind].get("status_code") == (str(error.status) if error.status else None), kind
    assert kinds["MISSING_AUTHENTICATION_TOKEN"]["status_code"] == "404", "an unknown route is a 404, not a 403"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_stage_logs_json_and_redeploys_on_change(stacks, env):
    stack = stacks[f"inference-{env}"]
    stage = one_resource(stack, "aws_api_gateway_stage")
    assert stage["xray_tracing_enabled"] is True
    fmt = json.loads(stage["access_log_settings"]["format"])
    assert fmt["requestId"] == "$context.requestId" and "status" in fmt
    assert "access-log-group" in stage["access_log_settings"]["destination_arn"]
    deployment = one_resource(stack, "aws_api_gateway_deployment")
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    assert set(deployment["triggers"]) == {"definition", "resources"}


def test_deployment_trigger_changes_with_the_api_definition():
    import dataclasses

    from cdktf import Testing

    from inference.config import InferenceConfig
    from stacks import InferenceStack

    def trigger(env):
        stack = json.loads(Testing.synth(InferenceStack(Testing.app(), env, InferenceConfig())))
        (deployment,) = stack["resource"]["aws_api_gateway_deployment"].values()
        return deployment["triggers"]["definition"]

    changed = dataclasses.replace(DEV, api=dataclasses.replace(DEV.api, api_key_required=True))
    assert trigger(DEV) != trigger(changed)


# --- state -----------------------------------------------------------------
def test_dev_state_is_local_and_prod_state_is_s3_with_native_locking(stacks):
    assert stacks["inference-dev"]["terraform"]["backend"] == {"local": {"path": "terraform.inference-dev.tfstate"}}
    s3 = stacks["inference-prod"]["terraform"]["backend"]["s3"]
    assert s3["use_lockfile"] is True and s3["encrypt"] is True
    assert isinstance(PROD.state, S3StateBackend)
    assert s3["bucket"] == PROD.state.bucket
    assert s3["key"] == "audio-inference/prod/inference-prod.tfstate"
    assert stacks["inference-prod-registry"]["terraform"]["backend"]["s3"]["key"].endswith(
        "inference-prod-registry.tfstate"
    )


def test_provider_tags_every_resource(stacks):
    provider = stacks["inference-prod"]["provider"]["aws"][0]
    assert provider["default_tags"] == [
        {"tags": {"Project": "audio-inference", "Environment": "prod", "ManagedBy": "cdktf"}}
    ]


def test_outputs_cover_what_operators_need(stacks):
    assert set(stacks["inference-prod"]["output"]) == {
        "predict_url",
        "api_key_id",
        "api_key_value",
        "input_bucket_name",
        "output_bucket_name",
        "repository_url",
        "image_uri",
        "function_name",
        "function_log_group_name",
        "api_access_log_group_name",
    }


def test_image_tag_and_digest_can_be_overridden_at_synth_time():
    from app import with_synth_overrides

    tagged = with_synth_overrides(DEV, {"INFERENCE_IMAGE_TAG": "git-abc123"})
    assert tagged.function.image_tag == "git-abc123"
    digest = "sha256:" + "a" * 64
    pinned = with_synth_overrides(PROD, {"INFERENCE_IMAGE_DIGEST": digest})
    assert pinned.function.image_digest == digest
    assert with_synth_overrides(DEV, {}) is DEV


# --- policies (aspect) -------------------------------------------------------
def test_policy_aspect_reports_resources_that_bypass_our_constructs():
    from cdktf import Testing
    from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
    from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

    from infra_constructs.policy_aspect import PolicyViolationError
    from stacks.base import EnvironmentStack, check_policies

    app = Testing.app()
    stack = EnvironmentStack(app, "policy-test", DEV)
    S3Bucket(stack, "raw-bucket")
    CloudwatchLogGroup(stack, "forever-logs", name="x")
    IamRolePolicy(stack, "hand-written", role="r", policy="{}")
    Testing.synth(stack)
    with pytest.raises(PolicyViolationError) as e:
        check_policies(app)
    message = str(e.value)
    assert "raw-bucket: S3 buckets must be created through SecureBucket" in message
    assert "forever-logs: log group has no retention_in_days" in message
    assert "hand-written: inline IAM policies must come from ServiceRole.grant" in message


def test_shipped_stacks_satisfy_every_policy(synthesized_app):
    from stacks.base import EnvironmentStack, check_policies

    check_policies(synthesized_app.app)  # raises PolicyViolationError listing any violation
    stacks = [child for child in synthesized_app.app.node.children if isinstance(child, EnvironmentStack)]
    assert len(stacks) == 4
    for stack in stacks:  # the aspect looked at every node of every stack
        assert stack.policies.visited == len(stack.node.find_all()), stack.node.id


def test_a_grant_after_the_function_exists_still_lands_before_it_starts():
    from cdktf import Testing

    from infra_constructs.container_function import ContainerFunction, ContainerFunctionProps
    from stacks.base import EnvironmentStack

    stack = EnvironmentStack(Testing.app(), "late-grant", DEV)
    function = ContainerFunction(
        stack,
        "fn",
        ContainerFunctionProps(function_name="f", image_uri="repo:tag", image_command=("service.worker.handler",)),
    )
    function.grant("late", ["s3:GetObject"], ["arn:aws:s3:::b/*"])
    synthesized = json.loads(Testing.synth(stack))
    (fn,) = synthesized["resource"]["aws_lambda_function"].values()
    (late,) = [key for key in synthesized["resource"]["aws_iam_role_policy"] if "_late_" in key]
    assert f"aws_iam_role_policy.{late}" in fn["depends_on"]
    assert len(fn["depends_on"]) == 1 + len(synthesized["resource"]["aws_iam_role_policy"]), "log group + policies"
    assert fn["image_config"] == {"command": ["service.worker.handler"]}

"""Apply the unmodified stacks to moto, verify what exists, re-plan clean, destroy clean.

Tests run in file order: the last one destroys everything and prints the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.environments import DEV, PROD
from contract import http as http_contract
from contract import page_policy
from contract.settings import ServiceSettings
from inference.config import load_config
from tests.support.deployment import ACCOUNTS, APPLY_ORDER, RELEASED, Deployment
from tests.support.emulator_gaps import EMULATOR_ROUND_TRIP_GAPS
from tests.support.stacks import Stack, managed_resource_count

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
ENVS = {"dev": DEV, "prod": PROD}
REPO = Path(__file__).resolve().parents[2]


def key_arn(deployment: Deployment, env: str, alias: str) -> str:
    """The ARN of the customer-managed key behind alias/<alias>, found through the emulated KMS."""
    return str(deployment.client("kms", env).describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["Arn"])


def data_key_arn(deployment: Deployment, env: str) -> str:
    return key_arn(deployment, env, f"{ENVS[env].resource_prefix}-data")


def test_first_prod_plan_on_an_empty_account_shows_every_resource_to_create(
    deployment: Deployment, stacks: dict[str, Stack]
) -> None:
    """`cdktf diff inference-prod` before anything exists, the registry included."""
    plan = deployment.report.first_prod_plan
    assert plan is not None and plan.exit_code == 2
    assert all(c["change"]["actions"] == ["create"] for c in plan.changes)
    assert len(plan.changes) == managed_resource_count(stacks["inference-prod"])
    functions = [c for c in plan.changes if c["type"] == "aws_lambda_function"]
    assert len(functions) == 3, "the API function, the jobs worker and the dead-letter drainer"
    # The image URI is known at plan time: account, region, repository name and the release pointer's
    # digest (SSM, read by the plan), no registry lookup.
    for function in functions:
        assert function["change"]["after"]["image_uri"] == (
            f"{ACCOUNTS['prod']}.dkr.ecr.us-east-1.amazonaws.com/{PROD.repository_name}@{RELEASED['prod']}"
        )


def test_every_stack_applies_all_its_resources(deployment: Deployment, stacks: dict[str, Stack]) -> None:
    for name in APPLY_ORDER:
        assert deployment.report.applied.get(name) == managed_resource_count(stacks[name]), name
    assert deployment.outputs["inference-dev"]["predict_url"].endswith("/v1/predict")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_derived_repository_url_is_the_one_ecr_gives(deployment: Deployment, env: str) -> None:
    derived = deployment.outputs[f"inference-{env}"]["repository_url"]
    assert derived == deployment.outputs[f"inference-{env}-registry"]["repository_url"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_buckets_are_private_encrypted_tls_only_with_lifecycle_and_cors(deployment, env):
    s3 = deployment.client("s3", env)
    out = deployment.outputs[f"inference-{env}"]
    settings = ENVS[env]
    for role in ("input", "output"):
        bucket = out[f"{role}_bucket_name"]
        sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert sse["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": data_key_arn(deployment, env),
        }
        assert sse["BucketKeyEnabled"] is True
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
        assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"
        (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        cors = s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]
        assert cors["AllowedOrigins"] == list(settings.api.cors_allowed_origins)
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": 1
        }
        if role == "input":
            assert rules["expire-uploads"]["Expiration"] == {"Days": settings.storage.input_expiry_days}
            assert rules["expire-uploads"]["Filter"] == {"Prefix": "uploads/"}
            assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        else:
            assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
                "NoncurrentDays": settings.storage.output_noncurrent_expiry_days
            }
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        deployment.report.verify(f"s3:{bucket}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_registry_scans_on_push_with_mutability_and_lifecycle(deployment, env):
    ecr = deployment.client("ecr", env)
    settings = ENVS[env]
    (repo,) = ecr.describe_repositories(repositoryNames=[settings.repository_name])["repositories"]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == settings.registry.tag_mutability
    assert repo["encryptionConfiguration"] == {
        "encryptionType": "KMS",
        "kmsKey": key_arn(deployment, env, f"{settings.resource_prefix}-registry"),
    }
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=settings.repository_name)["lifecyclePolicyText"])
    selections = {r["selection"]["tagStatus"]: r["selection"] for r in policy["rules"]}
    assert selections["untagged"]["countNumber"] == settings.registry.untagged_expiry_days
    assert selections["tagged"]["countNumber"] == settings.registry.keep_tagged_images
    assert repo["repositoryUri"] == deployment.outputs[f"inference-{env}-registry"]["repository_url"]
    deployment.report.verify(f"ecr:{settings.repository_name}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_function_is_the_configured_container_image(deployment, env):
    lam = deployment.client("lambda", env)
    settings = ENVS[env]
    out = deployment.outputs[f"inference-{env}"]
    fn = lam.get_function(FunctionName=out["function_name"])
    config = fn["Configuration"]
    assert config["PackageType"] == "Image"
    assert fn["Code"]["ImageUri"] == f"{out['repository_url']}@{RELEASED[env]}"  # the release pointer's
    assert config["MemorySize"] == settings.function.memory_mb
    assert config["Timeout"] == settings.function.timeout_s
    assert config["EphemeralStorage"] == {"Size": settings.function.ephemeral_storage_mb}
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["Architectures"] == [settings.function.architecture]
    variables = config["Environment"]["Variables"]
    for name, value in load_config(environ={}).to_environment().items():
        assert variables[name] == value, name
    service = ServiceSettings.from_environment(variables)
    assert (service.input_bucket, service.output_bucket) == (out["input_bucket_name"], out["output_bucket_name"])
    assert service.environment == env
    concurrency = lam.get_function_concurrency(FunctionName=out["function_name"])
    assert concurrency["ReservedConcurrentExecutions"] == settings.function.reserved_concurrency
    deployment.report.verify(f"lambda:{out['function_name']}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_api_routes_to_the_function_with_cors_keys_error_shape_and_logging(deployment, env):
    apigw = deployment.client("apigateway", env)
    settings = ENVS[env]
    name = f"{settings.resource_prefix}-api"
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == name]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    predict = resources["/predict"]
    assert set(predict["resourceMethods"]) == {"POST", "OPTIONS"}
    post = apigw.get_method(restApiId=api["id"], resourceId=predict["id"], httpMethod="POST")
    assert post["apiKeyRequired"] is settings.api.api_key_required
    integration = apigw.get_integration(restApiId=api["id"], resourceId=predict["id"], httpMethod="POST")
    assert integration["type"] == "AWS_PROXY" and integration["httpMethod"] == "POST"
    assert settings.resource_prefix + "-predict" in integration["uri"]
    options = apigw.get_method(restApiId=api["id"], resourceId=predict["id"], httpMethod="OPTIONS")
    assert options["apiKeyRequired"] is False
    assert apigw.get_integration(restApiId=api["id"], resourceId=predict["id"], httpMethod="OPTIONS")["type"] == "MOCK"
    health = resources["/health"]
    assert set(health["resourceMethods"]) == {"GET", "OPTIONS"}
    assert apigw.get_method(restApiId=api["id"], resourceId=health["id"], httpMethod="GET")["apiKeyRequired"] is False
    health_integration = apigw.get_integration(restApiId=api["id"], resourceId=health["id"], httpMethod="GET")
    assert health_integration["type"] == "MOCK" and "uri" not in health_integration, "/health never invokes"
    method_settings = apigw.get_stage(restApiId=api["id"], stageName=settings.api.stage_name)["methodSettings"]["*/*"]
    assert method_settings["throttlingRateLimit"] == settings.api.stage_throttle_rate_limit
    assert method_settings["throttlingBurstLimit"] == settings.api.stage_throttle_burst_limit
    for kind, error in http_contract.GATEWAY_ERRORS.items():
        response = apigw.get_gateway_response(restApiId=api["id"], responseType=kind)
        origin = response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert origin == f"'{settings.api.cors_allowed_origins[0]}'"
        assert f'"code": "{error.code}"' in response["responseTemplates"]["application/json"], kind
        assert response.get("statusCode") == (str(error.status) if error.status else None), kind
    stage = apigw.get_stage(restApiId=api["id"], stageName=settings.api.stage_name)
    assert stage["tracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"].endswith(
        f"log-group:/aws/apigateway/{name}/{settings.api.stage_name}/access"
    )
    assert json.loads(stage["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    plans = {p["name"]: p for p in apigw.get_usage_plans()["items"] if p["name"].startswith(f"{name}-")}
    assert settings.api.api_key_required, "every environment is keyed"
    assert apigw.get_api_keys()["items"] == [], "keys are the operator's (make keys), never Terraform's"
    assert not [o for o in deployment.outputs[f"inference-{env}"] if o.startswith("api_key")]
    for consumer in settings.api.consumers:
        plan = plans[f"{name}-{consumer.name}-plan"]
        rate, burst, quota = settings.api.limits_of(consumer)
        assert plan["tags"]["Consumer"] == consumer.name and plan["tags"]["Environment"] == env
        assert plan["apiStages"] == [{"apiId": api["id"], "stage": settings.api.stage_name}]
        assert plan["throttle"] == {"rateLimit": rate, "burstLimit": burst}
        assert plan["quota"]["limit"] == quota
        assert apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"] == []
    deployment.report.verify(f"apigateway:{name}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_log_groups_keep_logs_for_the_environment(deployment, env):
    logs = deployment.client("logs", env)
    settings = ENVS[env]
    out = deployment.outputs[f"inference-{env}"]
    for group in (out["function_log_group_name"], out["api_access_log_group_name"]):
        (found,) = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if g["logGroupName"] == group
        ]
        assert found["retentionInDays"] == settings.log_retention_days
        deployment.report.verify(f"logs:{group}")


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("function", ["predict", "worker", "dead-letters"])
def test_role_policies_are_the_scoped_grants(deployment, env, function):
    iam = deployment.client("iam", env)
    settings = ENVS[env]
    role = f"{settings.resource_prefix}-{function}-role"
    names = set(iam.list_role_policies(RoleName=role)["PolicyNames"])
    expected = {"write-logs", "xray-write", "job-uploads-objects", "job-uploads-list", "encryption-key"}
    expected |= {
        "predict": {
            "job-results-objects",
            "job-results-list",
            "predict-uploads-objects",
            "predict-results-objects",
            "job-status-objects",
            "job-ledgers-objects",
            "key-consumers-objects",
            "job-queue-depth",
        },
        "worker": {"job-results-objects", "job-results-list", "job-results-writes", "job-messages-consume"},
        "dead-letters": {"job-status-objects", "job-status-list", "job-status-writes", "dead-letters-consume"},
    }[function]
    assert names == expected
    for name in names:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        (statement,) = document["Statement"]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(a != "*" and not a.endswith(":*") for a in actions)
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if name == "job-uploads-objects":
            bucket = deployment.outputs[f"inference-{env}"]["input_bucket_name"]
            assert resources == [f"arn:aws:s3:::{bucket}/uploads/jobs/*"]
        if name != "xray-write":
            assert "*" not in resources
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    deployment.report.verify(f"iam:{role}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_job_uploads_notify_the_queue_which_only_the_bucket_may_feed_and_the_worker_drains(deployment, env):
    settings = ENVS[env]
    out = deployment.outputs[f"inference-{env}"]
    s3, sqs, lam = deployment.client("s3", env), deployment.client("sqs", env), deployment.client("lambda", env)
    (config,) = s3.get_bucket_notification_configuration(Bucket=out["input_bucket_name"])["QueueConfigurations"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=out["job_queue_url"], AttributeNames=["All"])["Attributes"]
    assert config["QueueArn"] == queue_arn["QueueArn"] and config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "uploads/jobs/"}] or config["Filter"][
        "Key"
    ]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/jobs/"}]
    statement, tls_only = json.loads(queue_arn["Policy"])["Statement"]
    assert tls_only["Effect"] == "Deny" and tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    account = deployment.client("sts", env).get_caller_identity()["Account"]
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{out['input_bucket_name']}"},
        "StringEquals": {"aws:SourceAccount": account},
    }
    redrive = json.loads(queue_arn["RedrivePolicy"])
    dead_letter = sqs.get_queue_attributes(QueueUrl=out["job_dead_letter_queue_url"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert redrive == {"deadLetterTargetArn": dead_letter, "maxReceiveCount": settings.jobs.max_receives}
    assert int(queue_arn["VisibilityTimeout"]) == settings.jobs.visibility_timeout_s
    assert queue_arn["KmsMasterKeyId"] == data_key_arn(deployment, env)
    # (moto reports SqsManagedSseEnabled "true" beside any KMS key: its default, not what the stack set)
    (mapping,) = lam.list_event_source_mappings(FunctionName=out["worker_function_name"])["EventSourceMappings"]
    assert mapping["EventSourceArn"] == queue_arn["QueueArn"] and mapping["BatchSize"] == settings.jobs.batch_size
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Never more pollers than the worker may run: throttled receives would dead-letter jobs unrun.
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": settings.jobs.queue_max_concurrency}
    (drains,) = lam.list_event_source_mappings(FunctionName=out["dead_letter_function_name"])["EventSourceMappings"]
    assert drains["EventSourceArn"] == dead_letter, "the drainer takes the dead letters"
    worker = lam.get_function(FunctionName=out["worker_function_name"])["Configuration"]
    assert (worker["MemorySize"], worker["Timeout"]) == (settings.jobs.worker_memory_mb, settings.jobs.worker_timeout_s)
    deployment.report.verify(f"sqs:{out['job_queue_url']}")
    deployment.report.verify(f"lambda:{out['worker_function_name']}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_keys_rotate_and_alarms_notify_the_encrypted_topic_with_a_dashboard(deployment, env):
    settings = ENVS[env]
    out = deployment.outputs[f"inference-{env}"]
    kms = deployment.client("kms", env)
    for alias in ("data", "registry"):
        key = key_arn(deployment, env, f"{settings.resource_prefix}-{alias}")
        assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    topic = deployment.client("sns", env).get_topic_attributes(TopicArn=out["alarm_topic_arn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == data_key_arn(deployment, env)
    cloudwatch = deployment.client("cloudwatch", env)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{settings.resource_prefix}-alarms-")["MetricAlarms"]
    assert len(alarms) == 14
    function_names = {out["function_name"], out["worker_function_name"], out["dead_letter_function_name"]}
    for alarm in alarms:
        assert alarm["AlarmActions"] == alarm["OKActions"] == [out["alarm_topic_arn"]]
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        if alarm["Namespace"] == "AWS/Lambda":
            assert dimensions["FunctionName"] in function_names
        elif alarm["Namespace"] == "AWS/ApiGateway":
            assert dimensions == {"ApiName": f"{settings.resource_prefix}-api", "Stage": settings.api.stage_name}
        else:
            assert dimensions["QueueName"] in {
                out["job_queue_url"].rsplit("/", 1)[1],
                out["job_dead_letter_queue_url"].rsplit("/", 1)[1],
            }
    body = json.loads(cloudwatch.get_dashboard(DashboardName=out["dashboard_name"])["DashboardBody"])
    rendered = json.dumps(body)
    assert "${" not in rendered and out["function_name"] in rendered and out["worker_function_name"] in rendered
    deployment.report.verify(f"sns:{out['alarm_topic_arn']}")
    deployment.report.verify(f"cloudwatch:{out['dashboard_name']}")


def test_prod_stage_is_behind_its_web_acl_which_logs_to_its_log_group(deployment):
    out = deployment.outputs["inference-prod"]
    waf = deployment.client("wafv2", "prod")
    apigw = deployment.client("apigateway", "prod")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{PROD.resource_prefix}-api"]
    stage_arn = f"arn:aws:apigateway:{PROD.region}::/restapis/{api['id']}/stages/{PROD.api.stage_name}"
    acl = waf.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]
    assert acl["ARN"] == out["web_acl_arn"]
    assert [r["Name"] for r in sorted(acl["Rules"], key=lambda r: r["Priority"])] == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "rate-limit-per-ip",
        "oversize-body",
        "body-pattern-off-predict",
        "no-user-agent-unkeyed",
        "predict-length-required",
        "predict-body-over-limit",
    ]
    logging = waf.get_logging_configuration(ResourceArn=out["web_acl_arn"])["LoggingConfiguration"]
    assert {"SingleHeader": {"Name": "x-api-key"}} in logging.get("RedactedFields", []), "the key is not logged"
    (destination,) = logging["LogDestinationConfigs"]
    assert destination.split(":log-group:")[1].split(":")[0] == out["waf_log_group_name"]
    assert "web_acl_arn" not in deployment.outputs["inference-dev"]
    deployment.report.verify(f"wafv2:{out['web_acl_arn']}")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_make_page_names_this_api_and_its_buckets_and_the_key_this_apis_execution_logs(deployment, env, tmp_path):
    """Issue #28: `make page` (the command, as an operator runs it) writes the page with connect-src naming
    the deployed API and its buckets alone; the key lets CloudWatch Logs encrypt this API's execution logs
    by their exact name, not every API's."""
    settings = ENVS[env]
    out = deployment.outputs[f"inference-{env}"]
    (api,) = [
        a
        for a in deployment.client("apigateway", env).get_rest_apis()["items"]
        if a["name"] == f"{settings.resource_prefix}-api"
    ]
    site = tmp_path / "site"
    ran = subprocess.run(
        [sys.executable, "-m", "operations.page", "--env", env, "--out", str(site)],
        cwd=REPO,
        env={**deployment.credentials[env], "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    policy = page_policy.carried_policy((site / "index.html").read_text())
    connect = next(d.split()[1:] for d in policy.split(";") if d.split()[0] == "connect-src")
    region = settings.region
    assert connect == [
        "'self'",
        f"https://{api['id']}.execute-api.{region}.amazonaws.com",
        *(
            host
            for bucket in (out["input_bucket_name"], out["output_bucket_name"])
            for host in (f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com")
        ),
    ]
    assert (site / "page" / "app.js").is_file()

    kms = deployment.client("kms", env)
    key_policy = json.loads(kms.get_key_policy(KeyId=data_key_arn(deployment, env), PolicyName="default")["Policy"])
    (logs,) = [s for s in key_policy["Statement"] if str(s["Principal"].get("Service", "")).startswith("logs.")]
    groups = [arn.split(":log-group:")[1] for arn in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]]
    execution_logs = [g for g in groups if g.startswith("API-Gateway-Execution-Logs_")]
    assert execution_logs == [f"API-Gateway-Execution-Logs_{api['id']}/{settings.api.stage_name}"]
    described = deployment.client("logs", env).describe_log_groups(logGroupNamePrefix=execution_logs[0])["logGroups"]
    assert [g.get("kmsKeyId") for g in described] == [data_key_arn(deployment, env)]


@pytest.mark.parametrize("stack_name", APPLY_ORDER)
def test_second_plan_is_clean(deployment, stack_name):
    plan = deployment.stacks[stack_name].plan()
    unexpected: list[str] = []
    tolerated: list[str] = []
    for change in plan.changes:
        actions = change["change"]["actions"]
        if actions != ["update"]:
            unexpected.append(f"{change['address']}: {actions}")
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        unknown = change["change"].get("after_unknown") or {}
        for attribute in sorted(set(before) | set(after)):
            if before.get(attribute) == after.get(attribute) or unknown.get(attribute) is True:
                continue  # unchanged, or computed and recomputed because of another attribute
            where = f"{change['type']}.{attribute}"
            (tolerated if (change["type"], attribute) in EMULATOR_ROUND_TRIP_GAPS else unexpected).append(where)
    deployment.report.drift[stack_name] = unexpected
    deployment.report.tolerated[stack_name] = tolerated
    assert unexpected == [], f"drift after apply: {unexpected}"


def test_destroy_in_reverse_order_leaves_nothing(deployment, capsys):
    report = deployment.report
    for name in reversed(APPLY_ORDER):
        report.destroyed[name] = deployment.stacks[name].destroy()
        assert deployment.stacks[name].state_resources() == []
    for env in ENVS:
        assert deployment.client("s3", env).list_buckets()["Buckets"] == []
        assert deployment.client("ecr", env).describe_repositories()["repositories"] == []
        assert deployment.client("lambda", env).list_functions()["Functions"] == []
        apigw = deployment.client("apigateway", env)
        assert apigw.get_rest_apis()["items"] == []
        assert apigw.get_api_keys()["items"] == []
        assert apigw.get_usage_plans()["items"] == []
        groups = deployment.client("logs", env).describe_log_groups()["logGroups"]
        assert [g["logGroupName"] for g in groups if "audio-inference" in g["logGroupName"]] == []
        roles = deployment.client("iam", env).list_roles()["Roles"]
        assert [r["RoleName"] for r in roles if r["RoleName"].startswith("audio-inference")] == []
    assert sum(report.destroyed.values()) == sum(report.applied.values())

    with capsys.disabled():
        applied = sum(report.applied.values())
        drift = sum(len(v) for v in report.drift.values())
        tolerated = sorted({t for v in report.tolerated.values() for t in v})
        print(
            f"\nemulator deploy: applied {applied} resources "
            f"({', '.join(f'{k} {v}' for k, v in report.applied.items())}); "
            f"verified {len(report.verified)} resources with boto3; drift {drift} "
            f"(tolerated emulator gaps: {', '.join(tolerated) or 'none'}); "
            f"destroyed {sum(report.destroyed.values())}, left 0"
        )

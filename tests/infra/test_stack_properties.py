"""Properties of the synthesized stacks, including every dev/prod difference."""

from __future__ import annotations

import dataclasses
import json

import pytest

from config.environments import DEV, ENVIRONMENTS, PROD
from config.schema import S3StateBackend, release_pointer_missing
from contract import http as http_contract
from contract.settings import ServiceSettings
from inference.config import InferenceConfig, load_config
from inference.pinned import BASIC_PITCH
from infra_constructs.rest_api import CONSUMER_TAG
from operations import keys
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
    by_default = sse["rule"][0]["apply_server_side_encryption_by_default"]
    assert by_default["sse_algorithm"] == "aws:kms"
    assert by_default["kms_master_key_id"].startswith("${aws_kms_key.encryption-key_")
    assert sse["rule"][0]["bucket_key_enabled"] is True
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


@pytest.mark.parametrize("env, days", [("dev", 7), ("prod", 90)])
def test_results_expire_per_environment(stacks, env, days):
    """Results do not pile up for ever: storage.output_expiry_days, per environment."""
    assert ENVIRONMENTS[env].storage.output_expiry_days == days
    lifecycle = one_resource(
        stacks[f"inference-{env}"], "aws_s3_bucket_lifecycle_configuration", "output-bucket/lifecycle"
    )
    (rule,) = [r for r in lifecycle["rule"] if r["id"] == "expire-results"]
    assert rule["expiration"] == [{"days": days}]
    assert rule["filter"] == [{"prefix": "results/"}] and rule["status"] == "Enabled"


@pytest.mark.parametrize(
    "env, bucket, days",
    [
        ("dev", "output-bucket", 7),
        ("prod", "output-bucket", 30),
        ("dev", "input-bucket", 1),
        ("prod", "input-bucket", 1),
    ],
)
def test_buckets_are_versioned_and_noncurrent_versions_expire(stacks, env, bucket, days):
    stack = stacks[f"inference-{env}"]
    versioning = one_resource(stack, "aws_s3_bucket_versioning", f"{bucket}/versioning")
    assert versioning["versioning_configuration"]["status"] == "Enabled"
    lifecycle = one_resource(stack, "aws_s3_bucket_lifecycle_configuration", f"{bucket}/lifecycle")
    (rule,) = [r for r in lifecycle["rule"] if r["id"] == "expire-noncurrent-versions"]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": days}]


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
    (encryption,) = repo["encryption_configuration"]
    assert encryption["encryption_type"] == "KMS"
    assert encryption["kms_key"].startswith("${aws_kms_key.encryption-key_")
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
    fn = one_resource(stacks[f"inference-{env}"], "aws_lambda_function", "inference-function/function")
    assert fn["package_type"] == "Image"
    settings = DEV if env == "dev" else PROD
    # no digest given at synth: the release pointer, read at plan time (never a tag)
    assert fn["image_uri"] == (
        "${data.aws_caller_identity.current-account.account_id}.dkr.ecr.us-east-1."
        f"${{data.aws_partition.current-partition.dns_suffix}}/{settings.repository_name}"
        "@${nonsensitive(one(data.aws_ssm_parameters_by_path.release-pointer.values))}"
    )
    pointer = stacks[f"inference-{env}"]["data"]["aws_ssm_parameters_by_path"]["release-pointer"]
    assert pointer["path"] == settings.release_path
    (check,) = pointer["lifecycle"]["postcondition"]
    assert check["error_message"] == release_pointer_missing(settings) and "\n" not in check["error_message"]
    assert "make deploy ENV=" + env in check["error_message"]
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
    variables = one_resource(stacks[f"inference-{env}"], "aws_lambda_function", "inference-function/function")[
        "environment"
    ]["variables"]
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
    assert names[f"/aws/lambda/audio-inference-{env}-worker"] == days
    assert names[f"/aws/apigateway/audio-inference-{env}-api/v1/access"] == days


# --- IAM -------------------------------------------------------------------
def grants_of(stack, function_id):
    """A function's inline policies: {grant name: statements}."""
    return {
        d["//"]["metadata"]["path"].split("/")[-1].removesuffix("-document"): d["statement"]
        for d in stack["data"]["aws_iam_policy_document"].values()
        if f"{function_id}/execution-role/" in d["//"]["metadata"]["path"]
        and "assume" not in d["//"]["metadata"]["path"]
    }


INPUT_ARN, OUTPUT_ARN = "${aws_s3_bucket.input-bucket_5DD4D8B1.arn}", "${aws_s3_bucket.output-bucket_A36D79CA.arn}"
KEY_ARN = "${aws_kms_key.encryption-key_B3391E8B.arn}"


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("function_id", ["inference-function", "worker-function"])
def test_role_permissions_are_explicit_scoped_grants(stacks, env, function_id):
    docs = grants_of(stacks[f"inference-{env}"], function_id)
    for name, (statement,) in docs.items():
        assert statement["effect"] == "Allow"
        for action in statement["actions"]:
            assert action != "*" and not action.endswith(":*"), (name, action)
        if name != "xray-write":
            assert "*" not in statement["resources"], name
    assert docs["xray-write"][0]["resources"] == ["*"]
    assert "DeleteObject" not in json.dumps(docs)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_api_function_reaches_only_its_own_prefixes(stacks, env):
    """What the API's code calls and no more: it never reads uploads, never deletes, and under the jobs'
    results writes only status documents (the worker writes the results)."""
    docs = grants_of(stacks[f"inference-{env}"], "inference-function")
    assert set(docs) == {
        "write-logs",
        "xray-write",
        "predict-uploads-objects",
        "predict-results-objects",
        "job-uploads-objects",
        "job-uploads-list",
        "job-results-objects",
        "job-results-list",
        "job-status-objects",
        "job-ledgers-objects",
        "key-consumers-objects",
        "job-queue-depth",
        "encryption-key",
    }
    (key,) = docs["encryption-key"]
    assert key["resources"] == [KEY_ARN]
    assert key["condition"] == [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": ["s3.us-east-1.amazonaws.com"]}
    ]
    grants = {
        name: (d[0]["resources"], sorted(d[0]["actions"])) for name, d in docs.items() if name.endswith("-objects")
    }
    assert grants == {
        "predict-uploads-objects": ([f"{INPUT_ARN}/uploads/predict/*"], ["s3:PutObject"]),
        "predict-results-objects": ([f"{OUTPUT_ARN}/results/predict/*"], ["s3:GetObject", "s3:PutObject"]),
        "job-uploads-objects": ([f"{INPUT_ARN}/uploads/jobs/*"], ["s3:PutObject"]),
        "job-results-objects": ([f"{OUTPUT_ARN}/results/jobs/*"], ["s3:GetObject"]),
        "job-status-objects": ([f"{OUTPUT_ARN}/results/jobs/*/status.json"], ["s3:PutObject"]),
        "job-ledgers-objects": ([f"{OUTPUT_ARN}/results/jobs/_keys/*"], ["s3:GetObject", "s3:PutObject"]),
        "key-consumers-objects": ([f"{OUTPUT_ARN}/results/jobs/_consumers/*"], ["s3:GetObject"]),
    }
    assert docs["job-uploads-list"][0]["condition"][0]["values"] == ["uploads/jobs/*"]
    assert docs["job-results-list"][0]["condition"][0]["values"] == ["results/jobs/*"]
    # Per-key job limits: the queue's depth, no more of SQS; never an API key (reading one can read its value).
    assert "apigateway:" not in json.dumps(docs)
    (depth,) = docs["job-queue-depth"]
    assert depth["actions"] == ["sqs:GetQueueAttributes"] and depth["resources"][0].startswith(
        "${aws_sqs_queue.job-queue_"
    )
    assert "sqs:ReceiveMessage" not in json.dumps(docs) and "sqs:SendMessage" not in json.dumps(docs)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_worker_reads_only_job_uploads_and_writes_only_job_results(stacks, env):
    docs = grants_of(stacks[f"inference-{env}"], "worker-function")
    assert set(docs) == {
        "write-logs",
        "xray-write",
        "job-uploads-objects",
        "job-uploads-list",
        "job-results-objects",
        "job-results-list",
        "job-results-writes",
        "job-messages-consume",
        "encryption-key",
    }
    assert docs["encryption-key"][0]["resources"] == [KEY_ARN]
    assert docs["encryption-key"][0]["condition"][0]["values"] == [
        "s3.us-east-1.amazonaws.com",
        "sqs.us-east-1.amazonaws.com",
    ]
    uploads = docs["job-uploads-objects"][0]
    assert uploads["resources"] == [f"{INPUT_ARN}/uploads/jobs/*"]
    assert set(uploads["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}, "read only: never the API's uploads"
    assert docs["job-results-objects"][0]["resources"] == [f"{OUTPUT_ARN}/results/jobs/*"]
    assert set(docs["job-results-objects"][0]["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    # It writes a job's status and results and charges a key's ledger; never a consumer document (make
    # keys writes those: a worker decoding hostile media must not raise a key's limits).
    (writes,) = docs["job-results-writes"]
    assert set(writes["actions"]) == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert sorted(writes["resources"]) == [
        f"{OUTPUT_ARN}/results/jobs/*/result.*",
        f"{OUTPUT_ARN}/results/jobs/*/status.json",
        f"{OUTPUT_ARN}/results/jobs/_keys/*",
    ]
    consume = docs["job-messages-consume"][0]
    (queue_arn,) = consume["resources"]
    assert queue_arn.startswith("${aws_sqs_queue.job-queue_") and "dead-letter" not in queue_arn
    assert set(consume["actions"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }


# --- jobs --------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_job_queue_is_encrypted_with_a_dead_letter_queue_and_room_for_the_worker(stacks, env):
    stack = stacks[f"inference-{env}"]
    settings = DEV if env == "dev" else PROD
    queue = one_resource(stack, "aws_sqs_queue", "job-queue/queue")
    dead = one_resource(stack, "aws_sqs_queue", "job-queue/dead-letter-queue")
    for encrypted in (queue, dead):
        assert encrypted["kms_master_key_id"] == KEY_ARN
        assert "sqs_managed_sse_enabled" not in encrypted, "one encryption mode, the customer-managed key"
    assert queue["visibility_timeout_seconds"] == 6 * settings.jobs.worker_timeout_s > settings.jobs.worker_timeout_s
    redrive = json.loads(queue["redrive_policy"])
    assert redrive["maxReceiveCount"] == settings.jobs.max_receives
    assert redrive["deadLetterTargetArn"].startswith("${aws_sqs_queue.job-queue_dead-letter-queue_")
    assert dead["message_retention_seconds"] == 14 * 24 * 3600


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_the_input_bucket_may_send_and_only_job_uploads_are_announced(stacks, env):
    stack = stacks[f"inference-{env}"]
    statement, tls_only = policy_statements(stack, "job-queue/policy-document")
    assert tls_only["effect"] == "Deny" and tls_only["actions"] == ["sqs:*"]
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}]
    source_arn, source_account = statement["condition"]
    assert source_arn == {"test": "ArnEquals", "variable": "aws:SourceArn", "values": [INPUT_ARN]}
    assert (source_account["test"], source_account["variable"]) == ("StringEquals", "aws:SourceAccount")
    assert source_account["values"][0].startswith("${data.aws_caller_identity.job-queue_account_")
    notification = one_resource(stack, "aws_s3_bucket_notification")
    assert notification["bucket"] == "${aws_s3_bucket.input-bucket_5DD4D8B1.id}"
    (queue,) = notification["queue"]
    assert queue["events"] == ["s3:ObjectCreated:*"] and queue["filter_prefix"] == "uploads/jobs/"
    assert any("aws_sqs_queue_policy" in d for d in notification["depends_on"]), "S3 checks the policy first"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_both_queues_refuse_requests_without_tls(stacks, env):
    stack = stacks[f"inference-{env}"]
    policies = stack["resource"]["aws_sqs_queue_policy"]
    assert len(policies) == 2  # the jobs queue's and its dead-letter queue's
    for suffix in ("job-queue/policy-document", "job-queue/dead-letter-policy-document"):
        deny = policy_statements(stack, suffix)[-1]
        assert deny["sid"] == "DenyRequestsWithoutTls" and deny["effect"] == "Deny" and deny["actions"] == ["sqs:*"]
        assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
        assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    urls = sorted(policy["queue_url"] for policy in policies.values())
    assert len(urls) == 2 and any("dead-letter-queue" in url for url in urls), urls


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_worker_is_the_same_image_with_its_handler_consuming_the_queue(stacks, env):
    stack = stacks[f"inference-{env}"]
    settings = DEV if env == "dev" else PROD
    api = one_resource(stack, "aws_lambda_function", "inference-function/function")
    worker = one_resource(stack, "aws_lambda_function", "worker-function/function")
    assert worker["image_uri"] == api["image_uri"]
    assert worker["image_config"] == {"command": ["service.worker.handler"]}
    assert (worker["memory_size"], worker["timeout"]) == (
        settings.jobs.worker_memory_mb,
        settings.jobs.worker_timeout_s,
    )
    assert worker["ephemeral_storage"] == {"size": settings.jobs.worker_ephemeral_storage_mb}
    assert worker["environment"] == api["environment"], "both read the same settings"
    mapping = one_resource(stack, "aws_lambda_event_source_mapping", "worker-function/job-messages")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["batch_size"] == settings.jobs.batch_size
    assert mapping["event_source_arn"].startswith("${aws_sqs_queue.job-queue_")
    assert "dead-letter" not in mapping["event_source_arn"]
    assert any("job-messages-consume" in d for d in mapping["depends_on"]), "Lambda checks the role on creation"
    # Lambda's SQS pollers ignore reserved concurrency: the mapping itself stops at what the worker may run.
    maximum = mapping["scaling_config"]["maximum_concurrency"]
    assert maximum == settings.jobs.queue_max_concurrency and 2 <= maximum <= worker["reserved_concurrent_executions"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dead_letter_queue_is_drained_by_a_function_that_loads_no_model_and_is_never_throttled(stacks, env):
    stack = stacks[f"inference-{env}"]
    settings = DEV if env == "dev" else PROD
    queue = one_resource(stack, "aws_sqs_queue", "job-queue/queue")
    dead = one_resource(stack, "aws_sqs_queue", "job-queue/dead-letter-queue")
    assert queue["message_retention_seconds"] == settings.jobs.queue_retention_s
    assert queue["message_retention_seconds"] >= settings.jobs.longest_wait_s(settings.storage.input_expiry_days)
    drainer = one_resource(stack, "aws_lambda_function", "dead-letter-function/function")
    assert drainer["image_config"] == {"command": ["service.dead_letters.handler"]}
    assert (drainer["memory_size"], drainer["timeout"]) == (
        settings.jobs.drainer_memory_mb,
        settings.jobs.drainer_timeout_s,
    )
    assert dead["visibility_timeout_seconds"] == 6 * drainer["timeout"], "Lambda refuses a mapping below the timeout"
    mapping = one_resource(stack, "aws_lambda_event_source_mapping", "dead-letter-function/dead-letters")
    assert mapping["event_source_arn"].startswith("${aws_sqs_queue.job-queue_dead-letter-queue_")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["scaling_config"]["maximum_concurrency"] == drainer["reserved_concurrent_executions"] == 2
    docs = grants_of(stack, "dead-letter-function")
    assert set(docs) == {
        "write-logs",
        "xray-write",
        "job-uploads-objects",
        "job-uploads-list",
        "job-status-objects",
        "job-status-list",
        "job-status-writes",
        "dead-letters-consume",
        "encryption-key",
    }
    assert set(docs["job-uploads-objects"][0]["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}, "kept"
    assert docs["job-status-objects"][0]["resources"] == [f"{OUTPUT_ARN}/results/jobs/*"]
    assert set(docs["job-status-objects"][0]["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert sorted(docs["job-status-writes"][0]["resources"]) == [
        f"{OUTPUT_ARN}/results/jobs/*/status.json",
        f"{OUTPUT_ARN}/results/jobs/_keys/*",
    ]
    (dead_arn,) = docs["dead-letters-consume"][0]["resources"]
    assert dead_arn.startswith("${aws_sqs_queue.job-queue_dead-letter-queue_")


def test_model_bucket_grant_is_read_only_on_its_prefix():
    """With a model bucket configured, the role may read only that prefix."""
    import dataclasses

    from cdktf import Testing

    from config.schema import ModelStoreSettings
    from stacks import InferenceStack

    env = dataclasses.replace(DEV, model_store=ModelStoreSettings(bucket="team-models", prefix="bp/0.4.0/"))
    stack = InferenceStack(Testing.app(), env, InferenceConfig())
    synthesized = json.loads(Testing.synth(stack))
    model_reads = [
        d["statement"][0]
        for key, d in synthesized["data"]["aws_iam_policy_document"].items()
        if "model-bucket-objects-document" in key
    ]
    assert len(model_reads) == 2, "the API function and the worker"
    for model_read in model_reads:
        assert model_read["resources"] == ["arn:aws:s3:::team-models/bp/0.4.0/*"]
        assert set(model_read["actions"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    for fn in synthesized["resource"]["aws_lambda_function"].values():
        assert (
            fn["environment"]["variables"]["INFERENCE_MODEL_URI"] == f"s3://team-models/bp/0.4.0/{BASIC_PITCH.filename}"
        )


# --- API -------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_route_but_health_is_a_lambda_proxy_with_binary_media_types(stacks, env):
    stack = stacks[f"inference-{env}"]
    api = one_resource(stack, "aws_api_gateway_rest_api")
    assert api["binary_media_types"] == list(http_contract.BINARY_MEDIA_TYPES)
    assert {r["path_part"] for r in resources_of(stack, "aws_api_gateway_resource").values()} == {
        "predict",
        "health",
        "jobs",
        "{job_id}",
    }
    for route in (r for r in http_contract.ROUTES if r != http_contract.HEALTH):
        slug = "-".join(f"by-{p[1:-1]}" if p.startswith("{") else p for p in route.path.strip("/").split("/"))
        slug = f"{slug}-{route.method.lower()}"
        integration = one_resource(stack, "aws_api_gateway_integration", f"{slug}-integration")
        assert integration["type"] == "AWS_PROXY" and integration["integration_http_method"] == "POST"
        assert integration["uri"] == "${aws_lambda_function.inference-function_DF3117D1.invoke_arn}"
        permission = one_resource(stack, "aws_lambda_permission", f"{slug}-permission")
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["source_arn"].endswith(f"/*/{route.method}{route.path.replace('{job_id}', '*')}")
    assert stack["output"]["predict_url"]["value"].endswith(".invoke_url}/predict")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_health_is_answered_by_api_gateway_without_the_function(stacks, env):
    """GET /health needs no key, so it must not reach the function: a MOCK integration answers it with
    the function's own answer (the pinned model, the runtime's version) and the request id."""
    from inference import __version__
    from inference.models.registry import pinned_artifact

    stack = stacks[f"inference-{env}"]
    integration = one_resource(stack, "aws_api_gateway_integration", "health-get-integration")
    assert integration["type"] == "MOCK" and "uri" not in integration
    assert not [p for p in resources_of(stack, "aws_lambda_permission").values() if "health" in p["source_arn"]]
    assert one_resource(stack, "aws_api_gateway_method", "health-get")["api_key_required"] is False
    answer = one_resource(stack, "aws_api_gateway_integration_response", "health-get-integration-200")
    model = load_config(environ={}).model
    served = ENVIRONMENTS[env].models
    listed = []
    for name in (model.name, *(m for m in served if m != model.name)):
        pinned = pinned_artifact(name)
        assert pinned is not None
        listed.append({"name": name, "version": pinned.version, "sha256": pinned.sha256})
    assert json.loads(answer["response_templates"]["application/json"]) == {
        "status": "ok",
        "model": listed[0],
        "models": listed,
        "service_version": __version__,
    }
    assert [m["name"] for m in listed] == ["basic-pitch", "silero-vad"]
    assert answer["response_parameters"]["method.response.header.X-Request-Id"] == "context.requestId"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_both_functions_serve_the_environments_models(stacks, env):
    """The environment's `models` setting reaches the API function and the worker alike (and the
    drainer, which reads the same settings and loads no model)."""
    functions = resources_of(stacks[f"inference-{env}"], "aws_lambda_function").values()
    served = {fn["environment"]["variables"]["INFERENCE_MODELS"] for fn in functions}
    assert served == {",".join(ENVIRONMENTS[env].models)} and len(list(functions)) == 3


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_stage_is_throttled_for_every_method(stacks, env):
    """The usage plan limits only keyed calls; the stage's own limit covers everything, /health included."""
    settings = ENVIRONMENTS[env].api
    method_settings = one_resource(stacks[f"inference-{env}"], "aws_api_gateway_method_settings")
    assert method_settings["method_path"] == "*/*"
    assert method_settings["settings"]["throttling_rate_limit"] == settings.stage_throttle_rate_limit
    assert method_settings["settings"]["throttling_burst_limit"] == settings.stage_throttle_burst_limit
    assert settings.stage_throttle_rate_limit >= settings.throttle_rate_limit


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_route_but_health_needs_a_key_and_each_consumer_has_its_own_plan(stacks, env):
    settings = ENVIRONMENTS[env].api
    stack = stacks[f"inference-{env}"]
    for route in ("predict-post", "jobs-post", "jobs-by-job_id-get"):
        assert one_resource(stack, "aws_api_gateway_method", route)["api_key_required"] is True, route
    assert one_resource(stack, "aws_api_gateway_method", "health-get")["api_key_required"] is False
    for options in ("predict-options", "health-options"):
        assert one_resource(stack, "aws_api_gateway_method", options)["api_key_required"] is False, options
    plans = {p["name"]: p for p in resources_of(stack, "aws_api_gateway_usage_plan").values()}
    names = [c.name for c in settings.consumers]
    assert sorted(plans) == sorted(f"audio-inference-{env}-api-{n}-plan" for n in names)
    for consumer in settings.consumers:
        rate, burst, quota = settings.limits_of(consumer)
        plan = plans[f"audio-inference-{env}-api-{consumer.name}-plan"]
        assert plan["throttle_settings"] == {"rate_limit": rate, "burst_limit": burst}
        assert plan["quota_settings"] == {"limit": quota, "period": settings.quota_period}
        # how `make keys` finds the consumer's plan (with the provider's Environment and Project tags)
        assert plan["tags"] == {keys.CONSUMER_TAG: consumer.name} and keys.CONSUMER_TAG == CONSUMER_TAG
    assert stack["output"]["usage_plan_ids"].get("sensitive") is not True


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_api_key_or_key_value_is_in_the_stack_its_state_or_its_outputs(stacks, env):
    """Terraform stores every attribute of a resource it manages, a key's generated value included: the
    stacks manage usage plans, never keys (operations/keys.py makes them); no output names a key."""
    stack = stacks[f"inference-{env}"]
    assert not resources_of(stack, "aws_api_gateway_api_key")
    assert not resources_of(stack, "aws_api_gateway_usage_plan_key")
    assert "aws_api_gateway_api_key" not in stack.get("data", {})
    assert not [name for name in stack["output"] if "key" in name and name != "usage_plan_ids"]
    text = json.dumps(stack)
    assert "aws_api_gateway_api_key" not in text and "api_key_value" not in text


def test_prod_has_several_consumers_with_their_own_limits():
    names = [c.name for c in PROD.api.consumers]
    assert len(names) >= 2
    assert len({PROD.api.limits_of(c) for c in PROD.api.consumers}) >= 2


@pytest.mark.parametrize("env, origin", [("dev", "'*'"), ("prod", "'https://app.example.com'")])
def test_cors_on_preflight_and_gateway_errors(stacks, env, origin):
    stack = stacks[f"inference-{env}"]
    for path in ("predict", "health"):
        response = one_resource(stack, "aws_api_gateway_integration_response", f"{path}-options-integration-200")
        assert response["response_parameters"]["method.response.header.Access-Control-Allow-Origin"] == origin
    kinds = {r["response_type"]: r for r in resources_of(stack, "aws_api_gateway_gateway_response").values()}
    assert set(kinds) == set(http_contract.GATEWAY_ERRORS)
    for gateway_response in kinds.values():
        params = gateway_response["response_parameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == origin
        assert params["gatewayresponse.header.Access-Control-Allow-Headers"] == (
            f"'{','.join(http_contract.CORS_ALLOW_HEADERS)}'"
        )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_errors_api_gateway_answers_itself_have_the_services_json_shape(stacks, env):
    kinds = {
        r["response_type"]: r
        for r in resources_of(stacks[f"inference-{env}"], "aws_api_gateway_gateway_response").values()
    }
    for kind, error in http_contract.GATEWAY_ERRORS.items():
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

    from stacks import InferenceStack

    def trigger(env):
        stack = json.loads(Testing.synth(InferenceStack(Testing.app(), env, InferenceConfig())))
        (deployment,) = stack["resource"]["aws_api_gateway_deployment"].values()
        return deployment["triggers"]["definition"]

    changed = dataclasses.replace(DEV, api=dataclasses.replace(DEV.api, api_key_required=not DEV.api.api_key_required))
    assert trigger(DEV) != trigger(changed)


# --- state -----------------------------------------------------------------
def test_dev_state_is_local_and_prod_state_is_s3_with_native_locking(stacks):
    # beside the synth output, not in it (tests/infra/test_state_and_order.py)
    assert stacks["inference-dev"]["terraform"]["backend"] == {
        "local": {"path": "../../../.state/inference-dev.tfstate"}
    }
    s3 = stacks["inference-prod"]["terraform"]["backend"]["s3"]
    assert s3["use_lockfile"] is True and s3["encrypt"] is True
    assert isinstance(PROD.state, S3StateBackend)
    assert "bucket" not in s3  # named per account when synthesized with credentials (tests/infra/test_state_bucket.py)
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
        "usage_plan_ids",
        "input_bucket_name",
        "output_bucket_name",
        "repository_url",
        "image_uri",
        "function_name",
        "function_log_group_name",
        "api_access_log_group_name",
        "jobs_url",
        "job_queue_url",
        "job_dead_letter_queue_url",
        "worker_function_name",
        "worker_log_group_name",
        "dead_letter_function_name",
        "alarm_topic_arn",
        "dashboard_name",
        "web_acl_arn",
        "waf_log_group_name",
    }


def test_the_image_digest_can_be_given_at_synth_time():
    from app import with_synth_overrides

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

    from infra_constructs.container_function import ContainerFunction
    from stacks.base import EnvironmentStack
    from tests.support.construct_props import function_props

    stack = EnvironmentStack(Testing.app(), "late-grant", DEV)
    function = ContainerFunction(
        stack,
        "fn",
        function_props(function_name="f", image_uri="repo:tag", image_command=("service.worker.handler",)),
    )
    function.grant("late", ["s3:GetObject"], ["arn:aws:s3:::b/*"])
    synthesized = json.loads(Testing.synth(stack))
    (fn,) = synthesized["resource"]["aws_lambda_function"].values()
    (late,) = [key for key in synthesized["resource"]["aws_iam_role_policy"] if "_late_" in key]
    assert f"aws_iam_role_policy.{late}" in fn["depends_on"]
    assert len(fn["depends_on"]) == 1 + len(synthesized["resource"]["aws_iam_role_policy"]), "log group + policies"
    assert fn["image_config"] == {"command": ["service.worker.handler"]}


def test_a_custom_domain_serves_tls_1_2_and_switches_the_default_endpoint_off():
    from cdktf import Testing

    from config.schema import ApiSettings
    from stacks import InferenceStack

    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    api = dataclasses.replace(PROD.api, custom_domain="api.example.com", certificate_arn=certificate)
    assert isinstance(api, ApiSettings)

    def only(stack: dict, resource_type: str) -> dict:
        (resource,) = stack["resource"][resource_type].values()  # Testing.synth leaves out construct paths
        return resource

    stack = json.loads(
        Testing.synth(InferenceStack(Testing.app(), dataclasses.replace(PROD, api=api), InferenceConfig()))
    )
    domain = only(stack, "aws_api_gateway_domain_name")
    assert (domain["domain_name"], domain["security_policy"]) == ("api.example.com", "TLS_1_2")
    assert domain["regional_certificate_arn"] == certificate
    assert domain["endpoint_configuration"] == {"types": ["REGIONAL"]}
    assert only(stack, "aws_api_gateway_rest_api")["disable_execute_api_endpoint"] is True
    mapping = only(stack, "aws_api_gateway_base_path_mapping")
    assert mapping["domain_name"].startswith("${aws_api_gateway_domain_name.") and "base_path" not in mapping
    assert stack["output"]["predict_url"]["value"] == "https://api.example.com/predict"
    assert "regional_domain_name" in stack["output"]["custom_domain_target"]["value"]


def test_without_a_custom_domain_the_default_endpoint_stays(stacks):
    for env in ("dev", "prod"):
        stack = stacks[f"inference-{env}"]
        assert not resources_of(stack, "aws_api_gateway_domain_name")
        assert "disable_execute_api_endpoint" not in one_resource(stack, "aws_api_gateway_rest_api")

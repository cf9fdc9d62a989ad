"""Alarms, dashboard and WAF of the synthesized inference stacks.

A metric's dimensions must name a resource the stack creates (a typo there is an alarm that never
fires, a widget that stays empty): AWS metrics are checked through the reference in each dimension
value, the service's own metrics against the names and dimensions its handlers emit.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from config.environments import DEV, PROD
from config.schema import AlarmSettings, EnvironmentConfig
from contract import metrics as metric_names
from tests.support.stacks import Stack, one_resource, resources_of

pytestmark = pytest.mark.slow
ENVS = {"dev": DEV, "prod": PROD}
REFERENCE = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_\-]+)\.([a-z_]+)\}$")

# Per AWS namespace: each dimension, the resource type and attribute its value must reference, and
# the metric names that namespace publishes (from the services' CloudWatch metrics references).
AWS_DIMENSIONS = {
    "AWS/Lambda": {"FunctionName": ("aws_lambda_function", "function_name")},
    "AWS/ApiGateway": {
        "ApiName": ("aws_api_gateway_rest_api", "name"),
        "Stage": ("aws_api_gateway_stage", "stage_name"),
    },
    "AWS/SQS": {"QueueName": ("aws_sqs_queue", "name")},
}
AWS_METRICS = {
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"},
    "AWS/SQS": {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
        "NumberOfMessagesReceived",
    },
}
SERVICE_METRICS = {
    metric_names.SERVICE_NAME: {*metric_names.API_METRICS, metric_names.ERRORS_METRIC},
    metric_names.WORKER_SERVICE_NAME: set(metric_names.WORKER_METRICS),
}


def check_metric(stack: Stack, env: EnvironmentConfig, namespace: str, metric: str, dims: dict[str, str]) -> None:
    """One metric of an alarm or a widget watches something real."""
    where = f"{namespace} {metric} {dims}"
    if namespace == metric_names.METRICS_NAMESPACE:
        assert set(dims) == {"service", metric_names.ENVIRONMENT_DIMENSION}, where
        assert metric in SERVICE_METRICS[dims["service"]], where
        assert dims[metric_names.ENVIRONMENT_DIMENSION] == env.name, where
        return
    assert metric in AWS_METRICS[namespace], where
    assert set(dims) == set(AWS_DIMENSIONS[namespace]), where
    for name, value in dims.items():
        found = REFERENCE.match(value)
        assert found, f"{where}: {name} is typed in, not a reference to the resource"
        resource_type, logical_id, attribute = found.groups()
        assert (resource_type, attribute) == AWS_DIMENSIONS[namespace][name], where
        assert logical_id in resources_of(stack, resource_type), f"{where}: no such resource"


def alarms_of(stack: Stack) -> dict[str, dict[str, Any]]:
    return {a["alarm_name"]: a for a in resources_of(stack, "aws_cloudwatch_metric_alarm").values()}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_alarm_watches_a_resource_the_stack_creates(stacks, env):
    stack, settings = stacks[f"inference-{env}"], ENVS[env]
    alarms = alarms_of(stack)
    assert len(alarms) == 14  # 3 per function (3 functions), 2 on the API, 3 on the queue and its dead letters
    for alarm in alarms.values():
        check_metric(stack, settings, alarm["namespace"], alarm["metric_name"], alarm["dimensions"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alarms_cover_functions_api_and_queue_with_configured_thresholds(stacks, env):
    stack, settings = stacks[f"inference-{env}"], ENVS[env]
    thresholds, prefix = settings.alarms, f"{settings.resource_prefix}-alarms"
    alarms = alarms_of(stack)
    for function, timeout_s in (
        ("predict-function", settings.function.timeout_s),
        ("worker-function", settings.jobs.worker_timeout_s),
    ):
        assert alarms[f"{prefix}-{function}-errors"]["threshold"] == thresholds.function_errors
        assert alarms[f"{prefix}-{function}-throttles"]["threshold"] == thresholds.function_throttles
        duration = alarms[f"{prefix}-{function}-duration"]
        assert duration["statistic"] == "Maximum"
        assert duration["threshold"] == timeout_s * 1000 * thresholds.duration_percent_of_timeout / 100
    five_xx = alarms[f"{prefix}-api-5xx-rate"]
    assert (five_xx["statistic"], five_xx["threshold"]) == ("Average", thresholds.api_5xx_rate_percent / 100)
    latency = alarms[f"{prefix}-api-p99-latency"]
    assert (latency["extended_statistic"], latency["threshold"]) == ("p99", thresholds.api_p99_latency_ms)
    assert "statistic" not in latency
    age = alarms[f"{prefix}-job-queue-oldest-message-age"]
    assert age["threshold"] == thresholds.queue_oldest_message_age_s
    dead = alarms[f"{prefix}-job-queue-dead-letters"]
    assert dead["threshold"] == 1 and "dead-letter-queue" in dead["dimensions"]["QueueName"]
    # The drainer takes a dead letter within seconds: its depth would rarely show it; its receives do.
    assert (dead["metric_name"], dead["statistic"]) == ("NumberOfMessagesReceived", "Sum")
    assert "dead-letter-queue" not in age["dimensions"]["QueueName"]
    undrained = alarms[f"{prefix}-job-queue-undrained-dead-letters"]
    assert undrained["metric_name"] == "ApproximateAgeOfOldestMessage"
    assert "dead-letter-queue" in undrained["dimensions"]["QueueName"]
    assert f"{prefix}-dead-letter-function-errors" in alarms


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alarms_notify_an_encrypted_topic_and_recover(stacks, env):
    stack = stacks[f"inference-{env}"]
    topic = one_resource(stack, "aws_sns_topic", "alarms/topic")
    assert topic["kms_master_key_id"].startswith("${aws_kms_key.encryption-key_")
    (topic_id,) = resources_of(stack, "aws_sns_topic")
    for alarm in alarms_of(stack).values():
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [f"${{aws_sns_topic.{topic_id}.arn}}"]
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["period"] == AlarmSettings().period_s
        assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert not resources_of(stack, "aws_sns_topic_subscription"), "no email unless configured"
    key_policy = json.loads(one_resource(stack, "aws_kms_key")["policy"])
    (cloudwatch,) = [s for s in key_policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_a_configured_email_subscribes_to_the_topic():
    from cdktf import Testing

    from inference.config import InferenceConfig
    from stacks import InferenceStack

    env = dataclasses.replace(DEV, alarms=AlarmSettings(notification_email="oncall@example.com", period_s=60))
    stack = json.loads(Testing.synth(InferenceStack(Testing.app(), env, InferenceConfig())))
    (subscription,) = resources_of(stack, "aws_sns_topic_subscription").values()
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@example.com")
    assert {a["period"] for a in alarms_of(stack).values()} == {60}


def dashboard_metrics(stack: Stack) -> tuple[list[dict[str, Any]], list[tuple[str, str, dict[str, str]]]]:
    body = json.loads(one_resource(stack, "aws_cloudwatch_dashboard")["dashboard_body"])
    metrics = []
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            values = [v for v in line if not isinstance(v, dict)]
            if values:
                namespace, metric, *pairs = values
                metrics.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return body["widgets"], metrics


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_dashboard_metric_names_a_real_resource_or_emitted_metric(stacks, env):
    stack, settings = stacks[f"inference-{env}"], ENVS[env]
    widgets, metrics = dashboard_metrics(stack)
    for namespace, metric, dims in metrics:
        check_metric(stack, settings, namespace, metric, dims)
    watched = {(namespace, metric) for namespace, metric, _ in metrics}
    for wanted in (
        [("AWS/ApiGateway", m) for m in ("Count", "4XXError", "5XXError", "Latency")]
        + [("AWS/Lambda", m) for m in ("Invocations", "Errors", "Duration", "ConcurrentExecutions")]
        + [(metric_names.METRICS_NAMESPACE, m) for m in ("AudioSeconds", "RealTimeFactor")]
        + [("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    ):
        assert wanted in watched, wanted
    latency_stats = {
        line[-1]["stat"]
        for w in widgets
        for line in w["properties"]["metrics"]
        if "Latency" in line and isinstance(line[-1], dict)
    }
    assert {"p50", "p99"} <= latency_stats
    functions = {m[2]["FunctionName"] for m in metrics if m[1] == "Invocations"}
    assert functions == {
        f"${{aws_lambda_function.{name}.function_name}}" for name in resources_of(stack, "aws_lambda_function")
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dashboard_errors_by_code_searches_this_environments_service_errors(stacks, env):
    widgets, _ = dashboard_metrics(stacks[f"inference-{env}"])
    expressions = [
        line[0]["expression"] for w in widgets for line in w["properties"]["metrics"] if isinstance(line[0], dict)
    ]
    (search,) = expressions
    assert f"{{{metric_names.METRICS_NAMESPACE},code,{metric_names.ENVIRONMENT_DIMENSION},service}}" in search
    assert f'MetricName="{metric_names.ERRORS_METRIC}"' in search and f'environment="{env}"' in search


def test_the_functions_tell_the_service_its_environment(stacks):
    """The service's metrics carry environment=<name> from its settings: the dashboard filters on it."""
    for env in ("dev", "prod"):
        for function in resources_of(stacks[f"inference-{env}"], "aws_lambda_function").values():
            assert env in function["environment"]["variables"].values()


# --- WAF ---------------------------------------------------------------------
def test_prod_stage_is_behind_a_web_acl_with_managed_rules_and_a_rate_limit(stacks):
    stack = stacks["inference-prod"]
    acl = one_resource(stack, "aws_wafv2_web_acl")
    assert acl["scope"] == "REGIONAL" and acl["default_action"] == {"allow": {}}
    rules = sorted(acl["rule"], key=lambda r: r["priority"])
    managed = [r["statement"]["managed_rule_group_statement"] for r in rules[:2]]
    managed = [{k: v for k, v in m.items() if k != "rule_action_override"} for m in managed]  # test_waf_rules.py
    assert managed == [
        {"vendor_name": "AWS", "name": "AWSManagedRulesCommonRuleSet"},
        {"vendor_name": "AWS", "name": "AWSManagedRulesKnownBadInputsRuleSet"},
    ]
    assert all(r["override_action"] == {"none": {}} for r in rules[:2]), "managed rules block, not just count"
    rate = rules[2]
    assert rate["action"]["block"]["custom_response"]["response_code"] == 429
    assert rate["statement"]["rate_based_statement"] == {
        "limit": PROD.waf.rate_limit_per_5_min,
        "aggregate_key_type": "IP",
    }
    blocking = [r["name"] for r in rules[2:]]
    assert blocking == [
        "rate-limit-per-ip",
        "oversize-body",
        "body-pattern-off-predict",
        "no-user-agent-unkeyed",
        "predict-length-required",
        "predict-body-over-limit",
    ]
    (stage_id,) = resources_of(stack, "aws_api_gateway_stage")
    (acl_id,) = resources_of(stack, "aws_wafv2_web_acl")
    association = one_resource(stack, "aws_wafv2_web_acl_association")
    assert association["resource_arn"] == f"${{aws_api_gateway_stage.{stage_id}.arn}}"
    assert association["web_acl_arn"] == f"${{aws_wafv2_web_acl.{acl_id}.arn}}"


def test_prod_waf_logs_to_an_encrypted_waf_log_group_with_the_environments_retention(stacks):
    stack = stacks["inference-prod"]
    group = one_resource(stack, "aws_cloudwatch_log_group", "web-acl/log-group")
    assert group["name"].startswith("aws-waf-logs-") and group["retention_in_days"] == PROD.log_retention_days
    assert group["kms_key_id"].startswith("${aws_kms_key.encryption-key_")
    (group_id,) = [k for k, v in resources_of(stack, "aws_cloudwatch_log_group").items() if v is group]
    logging = one_resource(stack, "aws_wafv2_web_acl_logging_configuration")
    assert logging["log_destination_configs"] == [f"${{aws_cloudwatch_log_group.{group_id}.arn}}"]
    delivery = json.loads(one_resource(stack, "aws_cloudwatch_log_resource_policy")["policy_document"])
    (statement,) = delivery["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == f"${{aws_cloudwatch_log_group.{group_id}.arn}}:*"


def test_dev_has_no_web_acl(stacks):
    stack = stacks["inference-dev"]
    for resource_type in (
        "aws_wafv2_web_acl",
        "aws_wafv2_web_acl_association",
        "aws_wafv2_web_acl_logging_configuration",
    ):
        assert not resources_of(stack, resource_type)
    assert "web_acl_arn" not in stack["output"]

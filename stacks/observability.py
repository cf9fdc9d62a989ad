"""What the inference stack watches: its alarms and its dashboard's widgets.

The API, the two functions and the jobs queue are watched through their own attributes; the
service's metrics by the names and dimensions `service.contract` gives the handlers that emit them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from constructs import Construct

from config.schema import EnvironmentConfig
from contract import metrics as metric_names
from infra_constructs.alarms import Alarms, AlarmsProps
from infra_constructs.container_function import ContainerFunction
from infra_constructs.dashboard import Dashboard, DashboardProps, MetricWidget
from infra_constructs.job_queue import JobQueue
from infra_constructs.rest_api import RestApi
from stacks.base import props_from


def alarms(
    scope: Construct,
    env: EnvironmentConfig,
    *,
    kms_key_arn: str | None,
    api: RestApi,
    functions: dict[str, ContainerFunction],
    queue: JobQueue,
) -> Alarms:
    watched = Alarms(
        scope,
        "alarms",
        props_from(AlarmsProps, env.alarms, topic_name=f"{env.resource_prefix}-alarms", kms_key_arn=kms_key_arn),
    )
    watched.watch_api("api", api_name=api.api.name, stage_name=api.stage.stage_name)
    for id_, function in functions.items():
        watched.watch_function(id_, function)
    watched.watch_queue("job-queue", queue)
    return watched


def dashboard(
    scope: Construct,
    env: EnvironmentConfig,
    *,
    api: RestApi,
    functions: dict[str, ContainerFunction],
    queue: JobQueue,
) -> Dashboard:
    period = env.alarms.period_s
    api_dims = ["ApiName", api.api.name, "Stage", api.stage.stage_name]

    def per_function(metric: str, stat: str) -> list[list[Any]]:
        return [
            ["AWS/Lambda", metric, "FunctionName", f.function_name, {"label": f"{id_} {metric}", "stat": stat}]
            for id_, f in functions.items()
        ]

    def service_metric(service: str, metric: str, stat: str, label: str) -> list[Any]:
        dims = ["service", service, metric_names.ENVIRONMENT_DIMENSION, env.name]
        return [metric_names.METRICS_NAMESPACE, metric, *dims, {"label": label, "stat": stat}]

    errors_by_code = (
        f"SEARCH('{{{metric_names.METRICS_NAMESPACE},code,{metric_names.ENVIRONMENT_DIMENSION},service}} "
        f'MetricName="{metric_names.ERRORS_METRIC}" {metric_names.ENVIRONMENT_DIMENSION}="{env.name}"\', '
        f"'Sum', {period})"
    )
    widgets = [
        MetricWidget(
            title="API requests and errors",
            metrics=[
                ["AWS/ApiGateway", "Count", *api_dims, {"label": "requests"}],
                ["AWS/ApiGateway", "4XXError", *api_dims, {"label": "4XX"}],
                ["AWS/ApiGateway", "5XXError", *api_dims, {"label": "5XX"}],
            ],
        ),
        MetricWidget(
            title="API latency",
            y_label="ms",
            metrics=[
                ["AWS/ApiGateway", "Latency", *api_dims, {"label": "p50", "stat": "p50"}],
                ["AWS/ApiGateway", "Latency", *api_dims, {"label": "p99", "stat": "p99"}],
                ["AWS/ApiGateway", "IntegrationLatency", *api_dims, {"label": "integration p99", "stat": "p99"}],
            ],
        ),
        MetricWidget(
            title="Function invocations, errors, throttles",
            metrics=[
                *per_function("Invocations", "Sum"),
                *per_function("Errors", "Sum"),
                *per_function("Throttles", "Sum"),
            ],
        ),
        MetricWidget(
            title="Function duration",
            y_label="ms",
            metrics=[*per_function("Duration", "p50"), *per_function("Duration", "p99")],
        ),
        MetricWidget(
            title="Function concurrency", stat="Maximum", metrics=per_function("ConcurrentExecutions", "Maximum")
        ),
        MetricWidget(
            title="Audio transcribed",
            y_label="seconds",
            metrics=[
                service_metric(metric_names.SERVICE_NAME, "AudioSeconds", "Sum", "/predict audio seconds"),
                service_metric(metric_names.WORKER_SERVICE_NAME, "JobAudioSeconds", "Sum", "job audio seconds"),
            ],
        ),
        MetricWidget(
            title="Real-time factor (inference seconds per audio second)",
            stat="Average",
            metrics=[
                service_metric(metric_names.SERVICE_NAME, "RealTimeFactor", "Average", "average"),
                service_metric(metric_names.SERVICE_NAME, "RealTimeFactor", "p99", "p99"),
            ],
        ),
        MetricWidget(
            title="Service errors by code",
            metrics=[[{"expression": errors_by_code, "id": "errors", "label": ""}]],
        ),
        MetricWidget(
            title="Jobs",
            metrics=[
                service_metric(metric_names.SERVICE_NAME, "JobsCreated", "Sum", "created"),
                service_metric(metric_names.WORKER_SERVICE_NAME, "JobsSucceeded", "Sum", "succeeded"),
                service_metric(metric_names.WORKER_SERVICE_NAME, "JobsFailed", "Sum", "failed"),
            ],
        ),
        MetricWidget(
            title="Job queue depth and age",
            stat="Maximum",
            metrics=[
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue.queue_name, {"label": "waiting"}],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    "QueueName",
                    queue.queue_name,
                    {"label": "in progress"},
                ],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    queue.dead_letter_queue_name,
                    {"label": "dead letters"},
                ],
                [
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    "QueueName",
                    queue.queue_name,
                    {"label": "oldest (s)", "yAxis": "right"},
                ],
            ],
        ),
    ]
    widgets = [replace(w, period_s=period) for w in widgets]
    return Dashboard(scope, "dashboard", DashboardProps(name=env.resource_prefix, region=env.region), widgets)

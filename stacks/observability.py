"""What the inference stack watches: its alarms and its dashboard's widgets.

The API, the two functions and the jobs queue are watched through the metrics they expose
(`api.metric_latency()`, `function.metric_errors()`, `queue.metric_dead_letters()`); the service's own
metrics by the names and dimensions `contract.metrics` gives the handlers that emit them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

from constructs import Construct

from config.schema import EnvironmentConfig
from contract import metrics as metric_names
from infra_constructs.alarms import Alarms, AlarmsProps
from infra_constructs.container_function import ContainerFunction
from infra_constructs.dashboard import Dashboard, DashboardProps, MetricWidget
from infra_constructs.job_queue import JobQueue
from infra_constructs.metric import Metric
from infra_constructs.rest_api import RestApi


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
        AlarmsProps(
            topic_name=f"{env.resource_prefix}-alarms",
            kms_key_arn=kms_key_arn,
            **dataclasses.asdict(env.alarms),  # AlarmSettings and AlarmsProps: the same thresholds, field for field
        ),
    )
    watched.watch_api("api", api)
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

    def per_function(metric: str, stat: str) -> list[list[Any]]:
        return [f.metric(metric, stat).with_(label=f"{id_} {metric}").widget_entry() for id_, f in functions.items()]

    def service_metric(service: str, metric: str, stat: str, label: str) -> list[Any]:
        dimensions = (("service", service), (metric_names.ENVIRONMENT_DIMENSION, env.name))
        custom = Metric(namespace=metric_names.METRICS_NAMESPACE, name=metric, dimensions=dimensions, statistic=stat)
        return custom.with_(label=label).widget_entry()

    errors_by_code = (
        f"SEARCH('{{{metric_names.METRICS_NAMESPACE},code,{metric_names.ENVIRONMENT_DIMENSION},service}} "
        f'MetricName="{metric_names.ERRORS_METRIC}" {metric_names.ENVIRONMENT_DIMENSION}="{env.name}"\', '
        f"'Sum', {period})"
    )
    widgets = [
        MetricWidget(
            title="API requests and errors",
            metrics=[
                api.metric_count().with_(label="requests").widget_entry(with_statistic=False),
                api.metric_client_errors().with_(label="4XX").widget_entry(with_statistic=False),
                api.metric_server_errors().with_(label="5XX").widget_entry(with_statistic=False),
            ],
        ),
        MetricWidget(
            title="API latency",
            y_label="ms",
            metrics=[
                api.metric_latency("p50").with_(label="p50").widget_entry(),
                api.metric_latency("p99").with_(label="p99").widget_entry(),
                api.metric_integration_latency("p99").with_(label="integration p99").widget_entry(),
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
                service_metric(metric_names.SERVICE_NAME, metric_names.AUDIO_SECONDS, "Sum", "/predict audio seconds"),
                service_metric(
                    metric_names.WORKER_SERVICE_NAME, metric_names.JOB_AUDIO_SECONDS, "Sum", "job audio seconds"
                ),
            ],
        ),
        MetricWidget(
            title="Real-time factor (inference seconds per audio second)",
            stat="Average",
            metrics=[
                service_metric(metric_names.SERVICE_NAME, metric_names.REAL_TIME_FACTOR, "Average", "average"),
                service_metric(metric_names.SERVICE_NAME, metric_names.REAL_TIME_FACTOR, "p99", "p99"),
            ],
        ),
        MetricWidget(
            title="Service errors by code",
            metrics=[[{"expression": errors_by_code, "id": "errors", "label": ""}]],
        ),
        MetricWidget(
            title="Jobs",
            metrics=[
                service_metric(metric_names.SERVICE_NAME, metric_names.JOBS_CREATED, "Sum", "created"),
                service_metric(metric_names.WORKER_SERVICE_NAME, metric_names.JOBS_SUCCEEDED, "Sum", "succeeded"),
                service_metric(metric_names.WORKER_SERVICE_NAME, metric_names.JOBS_FAILED, "Sum", "failed"),
            ],
        ),
        MetricWidget(
            title="Job queue depth and age",
            stat="Maximum",
            metrics=[
                queue.metric_visible_messages().with_(label="waiting").widget_entry(with_statistic=False),
                queue.metric_in_flight_messages().with_(label="in progress").widget_entry(with_statistic=False),
                queue.metric_dead_letters().with_(label="dead letters").widget_entry(with_statistic=False),
                queue.metric_oldest_message_age()
                .with_(label="oldest (s)")
                .widget_entry(with_statistic=False, yAxis="right"),
            ],
        ),
    ]
    widgets = [replace(w, period_s=period) for w in widgets]
    return Dashboard(scope, "dashboard", DashboardProps(name=env.resource_prefix, region=env.region), widgets)

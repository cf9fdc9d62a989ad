"""CloudWatch alarms of one environment, all notifying one SNS topic (with an optional email subscription).

Each `watch_*` method adds the alarms a kind of resource needs, on the metrics the resource itself
exposes (`metric_errors()`, `metric_latency()`, ...): dimensions are the resource's own references, so
an alarm cannot watch a resource that is not there. Missing data is not breaching: an idle API is a healthy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from infra_constructs.metric import Metric


class WatchedFunction(Protocol):
    timeout_s: int

    def metric_errors(self) -> Metric: ...
    def metric_throttles(self) -> Metric: ...
    def metric_duration(self, statistic: str = ...) -> Metric: ...


class WatchedApi(Protocol):
    def metric_server_errors(self, statistic: str = ...) -> Metric: ...
    def metric_latency(self, statistic: str = ...) -> Metric: ...


class WatchedQueue(Protocol):
    def metric_oldest_message_age(self) -> Metric: ...
    def metric_dead_letters(self) -> Metric: ...
    def metric_undrained_dead_letters(self) -> Metric: ...


@dataclass(frozen=True, kw_only=True)
class AlarmsProps:
    """The topic, and the thresholds: the environment's `alarms` settings field for field (each is
    documented in `config.schema.AlarmSettings`, its one default there)."""

    topic_name: str
    """The SNS topic every alarm (and its recovery) notifies."""
    kms_key_arn: str | None = None
    """Encrypt the topic with this key (its policy must let CloudWatch use it); left out: unencrypted."""
    notification_email: str
    period_s: int
    evaluation_periods: int
    function_errors: int
    function_throttles: int
    duration_percent_of_timeout: int
    api_5xx_rate_percent: float
    api_p99_latency_ms: int
    queue_oldest_message_age_s: int


class Alarms(Construct):
    def __init__(self, scope: Construct, id_: str, props: AlarmsProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        self.topic = SnsTopic(self, "topic", name=props.topic_name, kms_master_key_id=props.kms_key_arn)
        if props.notification_email:
            SnsTopicSubscription(
                self, "email", topic_arn=self.topic.arn, protocol="email", endpoint=props.notification_email
            )
        self.alarms: list[CloudwatchMetricAlarm] = []

    def watch_function(self, id_: str, function: WatchedFunction) -> None:
        """Errors, throttles, and the longest invocation nearing the timeout (the next one may not finish)."""
        p = self._props
        self._alarm(
            f"{id_}-errors",
            function.metric_errors(),
            p.function_errors,
            "invocations ended in an error (the service's log has the traceback)",
        )
        self._alarm(
            f"{id_}-throttles",
            function.metric_throttles(),
            p.function_throttles,
            "invocations were refused for lack of concurrency (reserved_concurrency)",
        )
        near_timeout_ms = function.timeout_s * 1000 * p.duration_percent_of_timeout / 100
        self._alarm(
            f"{id_}-duration",
            function.metric_duration("Maximum"),
            near_timeout_ms,
            f"an invocation took {p.duration_percent_of_timeout}% of the {function.timeout_s} s timeout",
        )

    def watch_api(self, id_: str, api: WatchedApi) -> None:
        """The share of 5XX answers (API Gateway's 5XXError average is that rate) and p99 latency."""
        p = self._props
        self._alarm(
            f"{id_}-5xx-rate",
            api.metric_server_errors("Average"),
            p.api_5xx_rate_percent / 100,
            f"over {p.api_5xx_rate_percent}% of requests got a 5XX",
        )
        self._alarm(
            f"{id_}-p99-latency",
            api.metric_latency("p99"),
            p.api_p99_latency_ms,
            f"the slowest 1% of requests took over {p.api_p99_latency_ms} ms",
        )

    def watch_queue(self, id_: str, queue: WatchedQueue) -> None:
        """Jobs waiting too long (the worker is failing or saturated) and any job in the dead-letter queue."""
        p = self._props
        self._alarm(
            f"{id_}-oldest-message-age",
            queue.metric_oldest_message_age(),
            p.queue_oldest_message_age_s,
            f"a job has waited over {p.queue_oldest_message_age_s} s for the worker",
        )
        self._alarm(
            f"{id_}-dead-letters",
            queue.metric_dead_letters(),
            1,
            "a job's message exhausted its receives (failed, killed or throttled deliveries): the drainer "
            "marks its job failed with the reason, its upload kept",
        )
        self._alarm(
            f"{id_}-undrained-dead-letters",
            queue.metric_undrained_dead_letters(),
            p.queue_oldest_message_age_s,
            f"a dead letter has waited over {p.queue_oldest_message_age_s} s: the drainer is failing, and its "
            "job reads queued or running until it runs",
        )

    def _alarm(self, id_: str, metric: Metric, threshold: float, meaning: str) -> None:
        p = self._props
        self.alarms.append(
            CloudwatchMetricAlarm(
                self,
                id_,
                alarm_name=f"{p.topic_name}-{id_}",
                alarm_description=f"{meaning}. Threshold and period: the environment's `alarms` settings.",
                namespace=metric.namespace,
                metric_name=metric.name,
                dimensions=dict(metric.dimensions),
                statistic=None if metric.is_percentile else metric.statistic,
                extended_statistic=metric.statistic if metric.is_percentile else None,
                period=p.period_s,
                evaluation_periods=p.evaluation_periods,
                threshold=threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
            )
        )

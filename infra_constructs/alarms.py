"""CloudWatch alarms of one environment, all notifying one SNS topic (with an optional email subscription).

Each `watch_*` method adds the alarms a kind of resource needs; dimensions are taken from the
resource's own attributes (references, not typed names), so an alarm cannot watch a resource that is
not there. Missing data is not breaching: an idle API is a healthy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct


class WatchedFunction(Protocol):
    function_name: str
    timeout_s: int


class WatchedQueue(Protocol):
    queue_name: str
    dead_letter_queue_name: str


@dataclass(frozen=True, kw_only=True)
class AlarmsProps:
    topic_name: str
    """The SNS topic every alarm (and its recovery) notifies."""
    kms_key_arn: str | None = None
    """Encrypt the topic with this key (its policy must let CloudWatch use it); left out: unencrypted."""
    notification_email: str = ""
    period_s: int = 300
    evaluation_periods: int = 1
    function_errors: int = 1
    function_throttles: int = 1
    duration_percent_of_timeout: int = 80
    api_5xx_rate_percent: float = 1.0
    api_p99_latency_ms: int = 10_000
    queue_oldest_message_age_s: int = 1800


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
        dimensions = {"FunctionName": function.function_name}
        self._alarm(
            f"{id_}-errors",
            "AWS/Lambda",
            "Errors",
            dimensions,
            "Sum",
            p.function_errors,
            "invocations ended in an error (the service's log has the traceback)",
        )
        self._alarm(
            f"{id_}-throttles",
            "AWS/Lambda",
            "Throttles",
            dimensions,
            "Sum",
            p.function_throttles,
            "invocations were refused for lack of concurrency (reserved_concurrency)",
        )
        near_timeout_ms = function.timeout_s * 1000 * p.duration_percent_of_timeout / 100
        self._alarm(
            f"{id_}-duration",
            "AWS/Lambda",
            "Duration",
            dimensions,
            "Maximum",
            near_timeout_ms,
            f"an invocation took {p.duration_percent_of_timeout}% of the {function.timeout_s} s timeout",
        )

    def watch_api(self, id_: str, *, api_name: str, stage_name: str) -> None:
        """The share of 5XX answers (API Gateway's 5XXError average is that rate) and p99 latency."""
        p = self._props
        dimensions = {"ApiName": api_name, "Stage": stage_name}
        self._alarm(
            f"{id_}-5xx-rate",
            "AWS/ApiGateway",
            "5XXError",
            dimensions,
            "Average",
            p.api_5xx_rate_percent / 100,
            f"over {p.api_5xx_rate_percent}% of requests got a 5XX",
        )
        self._alarm(
            f"{id_}-p99-latency",
            "AWS/ApiGateway",
            "Latency",
            dimensions,
            "p99",
            p.api_p99_latency_ms,
            f"the slowest 1% of requests took over {p.api_p99_latency_ms} ms",
        )

    def watch_queue(self, id_: str, queue: WatchedQueue) -> None:
        """Jobs waiting too long (the worker is failing or saturated) and any job in the dead-letter queue."""
        p = self._props
        self._alarm(
            f"{id_}-oldest-message-age",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": queue.queue_name},
            "Maximum",
            p.queue_oldest_message_age_s,
            f"a job has waited over {p.queue_oldest_message_age_s} s for the worker",
        )
        self._alarm(
            f"{id_}-dead-letters",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": queue.dead_letter_queue_name},
            "Maximum",
            1,
            "a job's message exhausted its receives: its job is marked failed, its upload kept",
        )

    def _alarm(
        self,
        id_: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        statistic: str,
        threshold: float,
        meaning: str,
    ) -> None:
        p = self._props
        percentile = statistic.startswith("p")
        self.alarms.append(
            CloudwatchMetricAlarm(
                self,
                id_,
                alarm_name=f"{p.topic_name}-{id_}",
                alarm_description=f"{meaning}. Threshold and period: the environment's `alarms` settings.",
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=None if percentile else statistic,
                extended_statistic=statistic if percentile else None,
                period=p.period_s,
                evaluation_periods=p.evaluation_periods,
                threshold=threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
            )
        )

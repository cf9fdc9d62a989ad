"""A CloudWatch metric as a value: what a construct emits, for its alarms and dashboard widgets.

Constructs expose the metrics AWS publishes for them (`function.metric_errors()`,
`api.metric_latency("p99")`, `queue.metric_oldest_message_age()`), as aws-cdk-lib's do, so alarms
and dashboards name a metric by asking the resource for it, never by spelling namespace, name and
dimensions by hand. Dimension values may be references (resolved at apply time).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    """(name, value) pairs in the order CloudWatch shows them."""
    statistic: str = "Sum"
    """Sum, Average, Maximum, ... or a percentile such as p99."""
    label: str = ""
    """The legend in a dashboard widget; left out: CloudWatch's own."""

    def with_(self, *, statistic: str | None = None, label: str | None = None) -> Metric:
        """The same metric with another statistic or label."""
        return dataclasses.replace(
            self,
            statistic=self.statistic if statistic is None else statistic,
            label=self.label if label is None else label,
        )

    @property
    def is_percentile(self) -> bool:
        return self.statistic.startswith("p")

    def widget_entry(self, *, with_statistic: bool = True, **options: Any) -> list[Any]:
        """CloudWatch's dashboard array: [namespace, name, dim, value, ..., {label, stat, ...options}]."""
        rendered: dict[str, Any] = {}
        if self.label:
            rendered["label"] = self.label
        if with_statistic:
            rendered["stat"] = self.statistic
        rendered.update(options)
        flat = [part for pair in self.dimensions for part in pair]
        return [self.namespace, self.name, *flat, rendered]

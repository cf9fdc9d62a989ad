"""A CloudWatch dashboard from a list of metric widgets, laid out two to a row.

A widget's metrics are CloudWatch's own array form: [namespace, metric, dim, value, ..., {options}],
or [{"expression": ..., "id": ..., "label": ...}] for a search expression. Dimension values may be
references to resources (their names resolve at apply time), which keeps the widgets on real resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from constructs import Construct

WIDTH, HEIGHT, COLUMNS = 12, 6, 2


@dataclass(frozen=True, kw_only=True)
class MetricWidget:
    title: str
    metrics: list[list[Any]]
    stat: str = "Sum"
    """The statistic for metrics that do not name their own (in their options' "stat")."""
    period_s: int = 300
    y_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DashboardProps:
    name: str
    region: str


class Dashboard(Construct):
    def __init__(self, scope: Construct, id_: str, props: DashboardProps, widgets: list[MetricWidget]) -> None:
        super().__init__(scope, id_)
        self.widgets = widgets
        body = {"widgets": [self._render(index, widget, props.region) for index, widget in enumerate(widgets)]}
        self.dashboard = CloudwatchDashboard(
            self, "dashboard", dashboard_name=props.name, dashboard_body=json.dumps(body)
        )

    @staticmethod
    def _render(index: int, widget: MetricWidget, region: str) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": widget.title,
            "region": region,
            "view": "timeSeries",
            "stat": widget.stat,
            "period": widget.period_s,
            "metrics": widget.metrics,
            **widget.extra,
        }
        if widget.y_label:
            properties["yAxis"] = {"left": {"label": widget.y_label, "showUnits": False}}
        return {
            "type": "metric",
            "x": (index % COLUMNS) * WIDTH,
            "y": (index // COLUMNS) * HEIGHT,
            "width": WIDTH,
            "height": HEIGHT,
            "properties": properties,
        }

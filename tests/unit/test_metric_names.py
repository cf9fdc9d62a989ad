"""The metric names `service.contract` lists (which the dashboard reads) are the ones the handlers emit."""

from __future__ import annotations

import re
from pathlib import Path

from service import contract
from service.jobs import FINAL

SERVICE_SOURCE = Path(contract.__file__).parent
LITERAL_METRIC = re.compile(r'add_metric\(name="([A-Za-z]+)"')


def emitted_names() -> set[str]:
    names: set[str] = set()
    for module in SERVICE_SOURCE.glob("*.py"):
        names.update(LITERAL_METRIC.findall(module.read_text()))
    # worker.py emits Jobs<Status> for each final status of a job
    names.update(f"Jobs{status.title()}" for status in FINAL)
    return names


def test_every_listed_metric_is_emitted_and_every_emitted_one_is_listed():
    listed = {*contract.API_METRICS, *contract.WORKER_METRICS}
    assert emitted_names() == listed


def test_the_handlers_take_namespace_and_service_names_from_the_contract():
    for module in ("handler.py", "worker.py", "api.py"):
        text = (SERVICE_SOURCE / module).read_text()
        assert '"AudioInference"' not in text and '"audio-inference' not in text, module
    assert 'add_metric(name=f"Jobs{outcome.status.title()}"' in (SERVICE_SOURCE / "worker.py").read_text()

"""X-Ray never records what the handlers answer: presigned upload forms and download links, and whole
transcriptions, would otherwise sit in every trace (Powertools records handler responses by default)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from emulation.local_server import LocalContext

EVENTS = Path(__file__).resolve().parents[1] / "events"


def test_the_api_handler_does_not_record_its_answer_in_traces(
    lambda_entry: tuple[ModuleType, Any], monkeypatch
) -> None:
    module, _ = lambda_entry
    recorded: list[bool] = []

    def record(*, capture_response: bool, **_: Any) -> None:
        recorded.append(capture_response)

    monkeypatch.setattr(module.tracer, "_add_response_as_metadata", record)
    answer = module.handler(json.loads((EVENTS / "health.json").read_text()), LocalContext(aws_request_id="trace"))
    assert answer["statusCode"] == 200
    assert recorded == [False], "the handler's answer would be recorded in X-Ray"


def test_the_worker_does_not_record_its_answer_in_traces(lambda_entry: tuple[ModuleType, Any], monkeypatch) -> None:
    from service import worker

    recorded: list[bool] = []

    def record(*, capture_response: bool, **_: Any) -> None:
        recorded.append(capture_response)

    monkeypatch.setattr(worker.tracer, "_add_response_as_metadata", record)
    event = json.loads((EVENTS / "worker_s3_test_event.json").read_text())  # the worker ignores S3's test event
    assert worker.handler(event, LocalContext(aws_request_id="trace-worker")) == {"batchItemFailures": []}
    assert recorded == [False]

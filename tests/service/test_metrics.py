"""The metrics the handlers emit are exactly the ones `contract.metrics` lists (which the dashboard and
alarms read): observed in the embedded metric format the functions print, not read from source text."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from typing import Any

import pytest
import requests

from contract import metrics as metric_names
from emulation import gateway
from emulation.local_server import INPUT_BUCKET, LocalContext
from inference.testing import signals
from tests.service.conftest import Emulated
from tests.support.audio import wav_bytes

CLIP = wav_bytes(signals.render(signals.chords(2, 2.0), 22050, 2.0, seed=7), 22050)
POWERTOOLS_OWN = {"ColdStart"}


def emitted(lines: str) -> list[dict[str, Any]]:
    """Every EMF document printed, with the metric names each declares."""
    documents = [json.loads(line) for line in lines.splitlines() if line.startswith('{"_aws"')]
    return [d for d in documents if d["_aws"]["CloudWatchMetrics"]]


def names_and_dimensions(documents: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == metric_names.METRICS_NAMESPACE
            for metric in directive["Metrics"]:
                dims = {(d, str(document[d])) for group in directive["Dimensions"] for d in group}
                found.setdefault(metric["Name"], set()).update(dims)
    return found


def api_call(emulated: Emulated, method: str, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    request = gateway.HttpRequest(
        method=method, path=path, headers=[("Content-Type", content_type), ("Host", "x")], query=[], body=body
    )
    route = gateway.route_for(method, path)
    assert route is not None
    request_id = gateway.new_request_id()
    event = gateway.to_proxy_event(request, route, request_id)
    result: dict[str, Any] = emulated.handler.handler(event, LocalContext(aws_request_id=request_id))
    return result


def worker_call(emulated: Emulated, key: str) -> dict[str, Any]:
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": INPUT_BUCKET}, "object": {"key": key.replace(" ", "+")}},
            }
        ]
    }
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "test",
        "body": json.dumps(notification),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:audio-inference-local-jobs",
        "awsRegion": "us-east-1",
    }
    context = LocalContext(aws_request_id="metrics-worker", function_name="audio-inference-local-worker")
    result: dict[str, Any] = emulated.worker.handler({"Records": [record]}, context)
    return result


def run_job(emulated: Emulated, audio: bytes) -> None:
    """POST /jobs, the upload with the form it returned, then the worker on the upload's notification."""
    body = json.dumps({"filename": "take one.wav", "content_type": "audio/wav"}).encode()
    created = json.loads(api_call(emulated, "POST", "/jobs", body, "application/json")["body"])
    form = created["upload"]
    uploaded = requests.post(form["url"], data=form["fields"], files={"file": ("x", audio, "audio/wav")}, timeout=30)
    assert uploaded.ok, uploaded.text
    assert worker_call(emulated, form["fields"]["key"]) == {"batchItemFailures": []}


@pytest.fixture(scope="module")
def observed(emulated: Emulated) -> dict[str, set[tuple[str, str]]]:
    """What a transcription, a refusal, a job that succeeds and one that fails emit (Powertools prints EMF to
    stdout)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        api_call(emulated, "POST", "/predict", CLIP, "audio/wav")
        api_call(emulated, "POST", "/predict", b"not audio at all", "audio/wav")
        run_job(emulated, CLIP)
        run_job(emulated, b"RIFF\x00\x00\x00\x00WAVEbroken")
    return names_and_dimensions(emitted(printed.getvalue()))


def test_every_listed_metric_is_emitted_and_every_emitted_one_is_listed(
    observed: dict[str, set[tuple[str, str]]],
) -> None:
    listed = {*metric_names.API_METRICS, *metric_names.WORKER_METRICS, metric_names.ERRORS_METRIC}
    assert set(observed) - POWERTOOLS_OWN == listed


def test_each_metric_carries_the_service_and_environment_dimensions_the_dashboard_reads(
    observed: dict[str, set[tuple[str, str]]],
) -> None:
    for name in metric_names.API_METRICS:
        assert ("service", metric_names.SERVICE_NAME) in observed[name], name
    for name in metric_names.WORKER_METRICS:
        assert ("service", metric_names.WORKER_SERVICE_NAME) in observed[name], name
    for name, dims in observed.items():
        if name not in POWERTOOLS_OWN:  # ColdStart: Powertools' own, by function name
            assert (metric_names.ENVIRONMENT_DIMENSION, "local") in dims, name
    assert any(d == "code" for d, _ in observed[metric_names.ERRORS_METRIC])

#!/usr/bin/env python
"""Write the API Gateway REST proxy events under tests/events/ (committed; rerun to refresh).

Each event is what the deployed API hands the function: the body of a binary
media type base64-encoded, headers and query string as sent, a request
context with its request id. The audio is rendered here (a C major chord),
so the files are reproducible on any machine.

    python -m measurement.make_events
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote_plus

import soundfile as sf
from urllib3 import encode_multipart_formdata

from emulation import gateway
from inference.testing import signals

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "tests" / "events"
BOUNDARY = "----audio-inference-fixture"


def chord(fmt: str) -> bytes:
    notes = [signals.Note(0.1, 1.2, pitch) for pitch in (60, 64, 67)]
    buffer = io.BytesIO()
    sf.write(buffer, signals.render(notes, 16000, 1.5, seed=7), 16000, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def event(method: str, path: str, headers: dict[str, str], body: bytes = b"", query: str = "") -> dict[str, object]:
    request = gateway.HttpRequest(
        method=method,
        path=path,
        headers=[
            ("Host", "example.execute-api.us-east-1.amazonaws.com"),
            ("User-Agent", "curl/8.5.0"),
            *headers.items(),
        ],
        query=[tuple(pair.split("=", 1)) for pair in query.split("&") if pair],  # type: ignore[misc]
        body=body,
        source_ip="203.0.113.7",
    )
    route = gateway.route_for(method, path)
    assert route is not None
    return gateway.to_proxy_event(request, route, request_id="fixture")


WORKER_JOB_ID = "0123456789abcdef0123456789abcdef"
"""The job the worker fixture's upload belongs to (a test creates it before sending the event)."""


def s3_notification(key: str) -> dict[str, object]:
    """S3's ObjectCreated notification for `key`, which S3 URL-encodes (a space becomes '+')."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2025-11-30T12:00:00.000Z",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {
                        "name": "audio-inference-local-input",
                        "arn": "arn:aws:s3:::audio-inference-local-input",
                    },
                    "object": {"key": quote_plus(key, safe="/"), "size": 48044},
                },
            }
        ]
    }


def sqs_event(body: dict[str, object]) -> dict[str, object]:
    """One SQS message as Lambda's event source mapping hands it to the worker."""
    return {
        "Records": [
            {
                "messageId": "5f6a3c1e-0000-4000-8000-000000000001",
                "receiptHandle": "fixture-receipt-handle",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764504000000",
                    "SenderId": "AIDAJHIPRHEMV73VRJEBU",
                    "ApproximateFirstReceiveTimestamp": "1764504000001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:audio-inference-local-jobs",
                "awsRegion": "us-east-1",
            }
        ]
    }


def multipart(fields: dict[str, str], audio: bytes, filename: str) -> tuple[bytes, str]:
    body, content_type = encode_multipart_formdata(
        [("file", (filename, audio, "audio/wav")), *fields.items()], boundary=BOUNDARY
    )
    return body, content_type


def main() -> None:
    EVENTS.mkdir(parents=True, exist_ok=True)
    wav, flac = chord("WAV"), chord("FLAC")
    body, content_type = multipart({"onset_threshold": "0.45", "midi_tempo": "100"}, wav, "C major (take 2).wav")
    fixtures = {
        "predict_multipart_wav": event("POST", "/predict", {"Content-Type": content_type, "Accept": "*/*"}, body),
        "predict_raw_flac_query_parameters": event(
            "POST",
            "/predict",
            {"Content-Type": "audio/flac", "Accept": "application/json"},
            flac,
            query="frame_threshold=0.35&melodia_trick=false",
        ),
        "predict_midi": event("POST", "/predict", {"Content-Type": content_type, "Accept": "audio/midi"}, body),
        "predict_parameter_out_of_range": event(
            "POST",
            "/predict",
            {"Content-Type": multipart({"onset_threshold": "1.5"}, wav, "c.wav")[1]},
            multipart({"onset_threshold": "1.5"}, wav, "c.wav")[0],
        ),
        "predict_json_body": event(
            "POST", "/predict", {"Content-Type": "application/json"}, json.dumps({"audio": "AAAA"}).encode()
        ),
        "health": event("GET", "/health", {"Accept": "application/json"}),
    }
    fixtures["worker_job_uploaded"] = sqs_event(s3_notification("uploads/jobs/" + WORKER_JOB_ID + "/take one.wav"))
    fixtures["worker_s3_test_event"] = sqs_event(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "audio-inference-local-input"}
    )
    for name, fixture in fixtures.items():
        if "requestContext" not in fixture:
            (EVENTS / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")
            print(EVENTS / f"{name}.json")
            continue
        context = fixture["requestContext"]
        assert isinstance(context, dict)
        context.update(requestId=f"fixture-{name}", extendedRequestId=f"fixture-{name}")
        context["path"] = f"/{gateway.STAGE}{fixture['path']}"  # the default execute-api domain has the stage
        context["requestTimeEpoch"] = 1_764_504_000_000
        context["requestTime"] = "30/Nov/2025:12:00:00 +0000"
        (EVENTS / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")
        print(EVENTS / f"{name}.json")


if __name__ == "__main__":
    main()

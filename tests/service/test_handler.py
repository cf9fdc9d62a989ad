"""The Lambda entry point on committed API Gateway events (tests/events/*.json), against moto's S3."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import mido
import pytest

from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, LocalContext

EVENTS = Path(__file__).resolve().parents[1] / "events"
RESULT_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "result-schema.json").read_text())
Entry = tuple[ModuleType, Any]


def invoke(entry: Entry, name: str) -> tuple[dict[str, Any], str]:
    module, _ = entry
    event = json.loads((EVENTS / f"{name}.json").read_text())
    result: dict[str, Any] = module.handler(event, LocalContext(aws_request_id=f"lambda-{name}"))
    return result, event["requestContext"]["requestId"]


def keys(s3: Any, bucket: str, request_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if request_id in o["Key"])


def test_multipart_wav_gives_the_chord_and_stores_upload_and_results(lambda_entry: Entry) -> None:
    result, request_id = invoke(lambda_entry, "predict_multipart_wav")
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is False
    body = json.loads(result["body"])
    assert body["request_id"] == request_id
    jsonschema.validate(body["result"], RESULT_SCHEMA)
    assert {n["pitch"] for n in body["result"]["notes"]} >= {60, 64, 67}
    assert body["result"]["parameters"]["onset_threshold"] == 0.45
    assert body["result"]["parameters"]["midi_tempo"] == 100
    _, s3 = lambda_entry
    assert keys(s3, INPUT_BUCKET, request_id) == [f"uploads/predict/{request_id}"]
    upload = s3.head_object(Bucket=INPUT_BUCKET, Key=f"uploads/predict/{request_id}")
    assert upload["Metadata"]["original-filename"] == "C major (take 2).wav"
    assert keys(s3, OUTPUT_BUCKET, request_id) == [
        f"results/predict/{request_id}/result.json",
        f"results/predict/{request_id}/result.mid",
    ]
    stored = s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"results/predict/{request_id}/result.json")["Body"].read()
    assert json.loads(stored) == body["result"]
    assert result["multiValueHeaders"]["X-Request-Id"] == [request_id]


def test_raw_flac_takes_parameters_from_the_query_string_and_equals_the_runtime(lambda_entry: Entry) -> None:
    result, _ = invoke(lambda_entry, "predict_raw_flac_query_parameters")
    assert result["statusCode"] == 200
    document = json.loads(result["body"])["result"]
    assert document["audio"]["format"] == "FLAC"
    assert document["parameters"]["frame_threshold"] == 0.35
    assert document["parameters"]["melodia_trick"] is False
    module, _ = lambda_entry
    event = json.loads((EVENTS / "predict_raw_flac_query_parameters.json").read_text())
    transcriber = module.service.transcriber
    parameters = transcriber.config.inference.with_overrides(frame_threshold=0.35, melodia_trick=False)
    assert document == transcriber.transcribe(base64.b64decode(event["body"]), parameters).to_dict()


def test_accept_midi_answers_the_midi_file_itself(lambda_entry: Entry) -> None:
    result, _ = invoke(lambda_entry, "predict_midi")
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    assert result["multiValueHeaders"]["Content-Type"] == ["audio/midi"]
    assert result["multiValueHeaders"]["Content-Disposition"] == ['attachment; filename="C major (take 2).mid"']
    midi = mido.MidiFile(file=io.BytesIO(base64.b64decode(result["body"])))
    pitches = {m.note for track in midi.tracks for m in track if m.type == "note_on"}
    assert pitches >= {60, 64, 67}


@pytest.mark.parametrize(
    "name, status, code",
    [
        ("predict_parameter_out_of_range", 422, "invalid_parameter"),
        ("predict_json_body", 415, "unsupported_media_type"),
    ],
)
def test_refusals_are_json_errors_and_store_nothing(lambda_entry: Entry, name: str, status: int, code: str) -> None:
    result, request_id = invoke(lambda_entry, name)
    assert result["statusCode"] == status
    assert json.loads(result["body"]) == {
        "error": {"code": code, "message": json.loads(result["body"])["error"]["message"], "request_id": request_id}
    }
    _, s3 = lambda_entry
    assert keys(s3, INPUT_BUCKET, request_id) == [] and keys(s3, OUTPUT_BUCKET, request_id) == []


def test_health_names_the_model_without_touching_storage(lambda_entry: Entry) -> None:
    module, _ = lambda_entry
    calls: list[str] = []
    module.s3.meta.events.register("before-call.s3.*", lambda **kw: calls.append(kw["event_name"]))
    try:
        result, _ = invoke(lambda_entry, "health")
    finally:
        module.s3.meta.events.unregister("before-call.s3.*")
    body = json.loads(result["body"])
    assert result["statusCode"] == 200 and body["status"] == "ok"
    assert body["model"]["name"] == "basic-pitch" and len(body["model"]["sha256"]) == 64
    assert calls == []


def test_an_unexpected_failure_is_a_500_without_internals(lambda_entry: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = lambda_entry

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk /var/task/secret exploded")

    monkeypatch.setattr(module.service.transcriber, "transcribe_decoded", broken)
    result, request_id = invoke(lambda_entry, "predict_multipart_wav")
    assert result["statusCode"] == 500
    error = json.loads(result["body"])["error"]
    assert error["code"] == "internal_error" and error["request_id"] == request_id
    assert "secret" not in result["body"] and "Traceback" not in result["body"]


def test_a_method_the_route_lacks_is_405_with_allow_when_it_reaches_the_function(lambda_entry: Entry) -> None:
    """Deployed, API Gateway answers this itself (404); a direct invocation still gets the right answer."""
    module, _ = lambda_entry
    event = json.loads((EVENTS / "health.json").read_text())
    event.update(httpMethod="DELETE", path="/predict", resource="/predict")
    result = module.handler(event, LocalContext(aws_request_id="lambda-405"))
    assert result["statusCode"] == 405
    assert result["multiValueHeaders"]["Allow"] == ["POST, OPTIONS"]
    assert json.loads(result["body"])["error"]["code"] == "method_not_allowed"


def test_refusals_are_counted_by_code_in_emf(lambda_entry: Entry, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    invoke(lambda_entry, "predict_parameter_out_of_range")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    errors = [line for line in lines if "Errors" in line]
    assert errors and errors[0]["code"] == "invalid_parameter" and errors[0]["Errors"] == [1.0]
    assert errors[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AudioInference"

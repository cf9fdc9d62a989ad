"""What a request produces is bounded on both paths: degenerate parameters are refused, a transcription past its
output budget is a 422 (a failed job) with its input kept, and an answer over Lambda's 6 MB is answered with its
download links (or a 303 to the MIDI file), never computed twice."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
import requests

from emulation import gateway
from emulation.local_server import LocalContext
from service.http import responses
from tests.service.conftest import Emulated
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract, error_of

NOISE = wav_bytes((np.random.default_rng(3).standard_normal(22050 * 6) * 0.3).astype(np.float32), 22050)
"""White noise: at the lowest thresholds nearly every pitch of every frame is an onset."""
LOWEST = {"onset_threshold": "0.05", "frame_threshold": "0.05", "minimum_note_length_ms": "10"}


@pytest.mark.parametrize(
    "fields",
    [
        {"onset_threshold": "0", "frame_threshold": "0"},
        {"onset_threshold": "-0"},
        {"frame_threshold": "1e-400"},
        {"minimum_note_length_ms": "0"},
    ],
)
def test_degenerate_parameters_are_refused_on_both_paths(local_server: LocalServer, fields: dict[str, str]) -> None:
    before = local_server.objects()
    answer = requests.post(
        f"{local_server.url}/predict", files={"file": ("n.wav", NOISE, "audio/wav")}, data=fields, timeout=60
    )
    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert error["code"] == "invalid_parameter" and ("0.05" in error["message"] or "10" in error["message"])
    numbers = {name: float(value) for name, value in fields.items()}
    job = requests.post(
        f"{local_server.url}/jobs",
        json={"filename": "n.wav", "content_type": "audio/wav", "parameters": numbers},
        timeout=30,
    )
    assert job.status_code == 422 and error_of(job)["code"] == "invalid_parameter", job.text
    assert local_server.objects() == before


def test_past_the_output_budget_predict_is_422_and_keeps_only_the_upload(local_server: LocalServer) -> None:
    started = time.monotonic()
    answer = requests.post(
        f"{local_server.url}/predict", files={"file": ("noise.wav", NOISE, "audio/wav")}, data=LOWEST, timeout=120
    )
    assert answer.status_code == 422, answer.text
    assert_follows_contract(contract(local_server.url), answer)
    error = error_of(answer)
    assert error["code"] == "output_too_large" and "onset_threshold" in error["message"]
    assert time.monotonic() - started < 60  # stopped while producing (seconds), not after minutes
    request_id = answer.headers["x-request-id"]
    stored = [key for keys in local_server.objects().values() for key in keys if request_id in key]
    assert stored == [f"uploads/predict/{request_id}"], stored  # the input kept, nothing half-written


def test_past_the_output_budget_a_job_fails_with_the_reason_and_keeps_its_input(local_server: LocalServer) -> None:
    created = requests.post(
        f"{local_server.url}/jobs",
        json={
            "filename": "noise.wav",
            "content_type": "audio/wav",
            "parameters": {name: float(value) for name, value in LOWEST.items()},
        },
        timeout=30,
    ).json()
    form = created["upload"]
    uploaded = requests.post(
        form["url"], data=form["fields"], files={"file": ("noise.wav", NOISE, "audio/wav")}, timeout=60
    )
    assert uploaded.status_code == 204
    deadline = time.monotonic() + 120
    while (job := requests.get(created["status_url"], timeout=10).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert job["status"] == "failed" and job["error"]["code"] == "output_too_large", job
    assert any(form["fields"]["key"] in keys for keys in local_server.objects().values())  # the input is kept


def invoke_predict(emulated: Emulated, accept: str) -> dict[str, Any]:
    chord = wav_bytes((0.3 * np.sin(2 * np.pi * 261.6 * np.arange(22050 * 3) / 22050)).astype(np.float32), 22050)
    request = gateway.HttpRequest(
        method="POST",
        path="/predict",
        headers=[("Content-Type", "audio/wav"), ("Accept", accept), ("Host", "x")],
        query=[("include_pitch_bends", "true")],
        body=chord,
    )
    route = gateway.route_for("POST", "/predict")
    assert route is not None
    request_id = gateway.new_request_id()
    event = gateway.to_proxy_event(request, route, request_id)
    result: dict[str, Any] = emulated.handler.handler(event, LocalContext(aws_request_id=request_id))
    return result


def test_an_answer_over_the_response_limit_carries_its_links_instead(
    emulated: Emulated, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.predict import route

    full = invoke_predict(emulated, "application/json")
    document = json.loads(full["body"])["result"]
    size = responses.answer_bytes(full["body"].encode(), binary=False)
    monkeypatch.setattr(route, "ANSWER_LIMIT_BYTES", size - 1)  # this answer is now one byte too many

    answer = invoke_predict(emulated, "application/json")
    assert answer["statusCode"] == 200
    links = json.loads(answer["body"])
    assert "result" not in links and links["result_in_downloads"]["summary"]["notes_count"] == len(document["notes"])
    assert "6 MB" in links["result_in_downloads"]["reason"]
    stored = requests.get(links["downloads"]["json_url"], timeout=10).json()
    assert stored["notes"] == document["notes"]  # computed once, stored, linked


def test_a_midi_answer_over_the_limit_is_a_303_to_the_stored_file(
    emulated: Emulated, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.predict import route

    monkeypatch.setattr(route, "ANSWER_LIMIT_BYTES", 10)
    answer = invoke_predict(emulated, "audio/midi")
    assert answer["statusCode"] == 303 and answer["isBase64Encoded"] is False
    location = answer["multiValueHeaders"]["Location"][0]
    body = json.loads(answer["body"])
    assert location == body["downloads"]["midi_url"]
    assert requests.get(location, timeout=10).content.startswith(b"MThd")


def test_the_answer_limit_leaves_room_for_the_envelope() -> None:
    assert responses.ANSWER_LIMIT_BYTES < 6 * 1024 * 1024
    assert responses.answer_bytes(b"\x00" * 3, binary=True) == 4
    assert responses.answer_bytes(b'{"a":"\\u00e9"}', binary=False) > len(b'{"a":"\\u00e9"}')

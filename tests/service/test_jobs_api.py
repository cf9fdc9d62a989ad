"""Jobs through `make serve`'s server, as a client does it: create, upload with the returned form, poll,
download; and bad input to POST /jobs and GET /jobs/{id}."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from inference.testing import signals
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract, error_of

CLIP = wav_bytes(signals.render(signals.piece(21, 8.0), 44100, 8.0, seed=21), 44100)


def create(server: LocalServer, body: Any, content_type: str = "application/json") -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else None
    return requests.post(
        f"{server.url}/jobs",
        json=None if data is not None else body,
        data=data,
        headers={"Content-Type": content_type},
        timeout=30,
    )


def poll(url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job: dict[str, Any] = requests.get(url, timeout=10).json()
        seen.append(job["status"])
        if job["status"] in ("succeeded", "failed"):
            job["_seen"] = seen
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job stayed {seen[-1]}")


def test_a_long_file_goes_through_the_job_flow_and_equals_predict(local_server: LocalServer) -> None:
    api = contract(local_server.url)
    response = create(
        local_server,
        {
            "filename": "rehearsal.wav",
            "content_type": "audio/wav",
            "size_bytes": len(CLIP),
            "parameters": {"onset_threshold": 0.6},
        },
    )
    assert response.status_code == 201, response.text
    assert_follows_contract(api, response)
    created = response.json()
    assert response.headers["location"] == created["status_url"] == f"{local_server.url}/jobs/{created['job_id']}"
    waiting = requests.get(created["status_url"], timeout=10)
    assert waiting.json()["status"] == "awaiting_upload"
    assert_follows_contract(api, waiting)

    form = created["upload"]
    uploaded = requests.post(
        form["url"], data=form["fields"], files={"file": ("rehearsal.wav", CLIP, "audio/wav")}, timeout=60
    )
    assert uploaded.status_code == 204
    job = poll(created["status_url"])
    assert job["status"] == "succeeded", job
    final = requests.get(created["status_url"], timeout=10)
    assert_follows_contract(api, final)
    result = requests.get(job["result"]["json_url"], timeout=10).json()
    assert job["result"]["notes_count"] == len(result["notes"]) and job["result"]["duration_s"] == 8.0
    assert requests.get(job["result"]["midi_url"], timeout=10).content[:4] == b"MThd"

    direct = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("rehearsal.wav", CLIP, "audio/wav")},
        data={"onset_threshold": "0.6"},
        timeout=60,
    ).json()["result"]
    assert result == direct


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        ({"filename": "a.mp3", "content_type": "audio/mpeg"}, "text/plain", 415, "unsupported_media_type"),
        ({"filename": "a.mp3"}, "application/json", 400, "bad_request"),
        ({"filename": "a.txt", "content_type": "text/plain"}, "application/json", 415, "unsupported_media_type"),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": 10**12},
            "application/json",
            413,
            "payload_too_large",
        ),
        ({"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": 0}, "application/json", 400, "bad_request"),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"onset_threshold": 7}},
            "application/json",
            422,
            "invalid_parameter",
        ),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"batch_size": 64}},
            "application/json",
            422,
            "invalid_parameter",
        ),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "priority": "high"},
            "application/json",
            400,
            "bad_request",
        ),
        ({"filename": "a\u0000.mp3", "content_type": "audio/mpeg"}, "application/json", 400, "bad_request"),
        (b"{not json", "application/json", 400, "bad_request"),
        (b'["a list"]', "application/json", 400, "bad_request"),
        # Hostile JSON: each was a 500 (Python's int-string limit, the recursion limit) or a 413 echoing 5.7 KB.
        (
            b'{"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": ' + b"9" * 4301 + b"}",
            "application/json",
            400,
            "bad_request",
        ),
        (
            b'{"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": ' + b"9" * 4300 + b"}",
            "application/json",
            400,
            "bad_request",
        ),
        (
            b'{"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"midi_tempo": ' + b"1" * 4301 + b"}}",
            "application/json",
            400,
            "bad_request",
        ),
        (b"[" * 2000 + b"]" * 2000, "application/json", 400, "bad_request"),
        (
            b'{"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": NaN}',
            "application/json",
            400,
            "bad_request",
        ),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"onset_threshold": "٠.٥"}},
            "application/json",
            422,
            "invalid_parameter",
        ),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"midi_tempo": "1_0"}},
            "application/json",
            422,
            "invalid_parameter",
        ),
        (
            {"filename": "a.mp3", "content_type": "audio/mpeg", "parameters": {"onset_threshold": "０.５"}},
            "application/json",
            422,
            "invalid_parameter",
        ),
    ],
)
def test_fails_bad_job_requests_without_creating_a_job(
    local_server: LocalServer, body: Any, content_type: str, status: int, code: str
) -> None:
    before = local_server.objects()
    response = create(local_server, body, content_type)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert len(error_of(response)["message"]) < 600, "a message never echoes a huge value back"
    assert local_server.objects() == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example", "X-Forwarded-Proto": "javascript"},
        {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example"},
        {"Host": "evil.example/jobs/x#"},
    ],
)
def test_status_urls_come_from_the_gateway_not_from_spoofable_headers(
    local_server: LocalServer, headers: dict[str, str]
) -> None:
    """API Gateway sets the request context's domain name and stage; Host and X-Forwarded-* are the client's."""
    response = requests.post(
        f"{local_server.url}/jobs",
        json={"filename": "a.mp3", "content_type": "audio/mpeg"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status_url"] == response.headers["location"] == f"{local_server.url}/jobs/{created['job_id']}"


@pytest.mark.parametrize("job_id", ["0" * 32, "not-a-job", "../../status", "A" * 32])
def test_unknown_or_malformed_job_ids_are_404(local_server: LocalServer, job_id: str) -> None:
    response = requests.get(f"{local_server.url}/jobs/{job_id}", timeout=10)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_413_of_predict_points_to_jobs(local_server: LocalServer) -> None:
    response = requests.post(
        f"{local_server.url}/predict", data=b"\0" * 4_600_000, headers={"Content-Type": "audio/wav"}, timeout=30
    )
    assert response.status_code == 413 and "POST /jobs" in error_of(response)["message"]


def test_a_content_type_with_parameters_is_its_media_type(local_server: LocalServer) -> None:
    """MediaRecorder reports `audio/webm;codecs=opus`; /predict took it and /jobs refused it as not an
    audio/* type. The job keeps the bare type, and its upload form asks for that."""
    response = create(local_server, {"filename": "memo.webm", "content_type": "Audio/WebM; codecs=opus"})
    assert response.status_code == 201, response.text
    assert response.json()["upload"]["fields"]["Content-Type"] == "audio/webm"


def test_an_upload_against_its_form_is_refused_by_the_emulator_as_s3_refuses_it_and_the_job_waits(
    local_server: LocalServer,
) -> None:
    """moto stored any upload, so `make serve` failed such a job for good (`upload_rejected`) where S3
    refuses the POST and the job keeps waiting for a good one: the emulator now enforces the policy."""
    created = create(
        local_server, {"filename": "take.wav", "content_type": "audio/wav", "size_bytes": len(CLIP)}
    ).json()
    form = created["upload"]
    too_large = requests.post(
        form["url"], data=form["fields"], files={"file": ("take.wav", CLIP + b"\0" * 10, "audio/wav")}, timeout=60
    )
    assert too_large.status_code == 400 and b"<Code>EntityTooLarge</Code>" in too_large.content
    other_type = requests.post(
        form["url"],
        data={**form["fields"], "Content-Type": "audio/flac"},
        files={"file": ("take.wav", CLIP, "audio/flac")},
        timeout=60,
    )
    assert other_type.status_code == 403 and b"Invalid according to Policy" in other_type.content
    assert requests.get(created["status_url"], timeout=10).json()["status"] == "awaiting_upload"
    uploaded = requests.post(
        form["url"], data=form["fields"], files={"file": ("take.wav", CLIP, "audio/wav")}, timeout=60
    )
    assert uploaded.status_code == 204, uploaded.text
    assert poll(created["status_url"])["status"] == "succeeded"

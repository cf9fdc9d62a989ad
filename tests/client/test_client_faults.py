"""The client against scripted servers: bounded retries on 429/502/503/504 only, timeouts, failed jobs,
the fallback to a job, and where the API key goes (and where it never shows)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_inference_client import (
    BadAudioJobError,
    BadInputError,
    Client,
    JobFailedError,
    ServiceError,
    TranscriptionTimeout,
)

from tests.client.scripted_server import Answer, ScriptedServer, error, result_document

pytestmark = pytest.mark.slow  # real sockets, the command in subprocesses, timeouts waited out: ~20 s

AUDIO = b"RIFF" + b"\0" * 2000  # never decoded here: the scripted server answers what it is told
SECRET = "k3y-that-must-never-show"


@pytest.fixture()
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as running:
        yield running


def predict_ok(server: ScriptedServer) -> Answer:
    downloads = {"json_url": f"{server.url}/stored.json", "midi_url": f"{server.url}/stored.mid", "expires_in_s": 3600}
    return Answer(200, {"request_id": "req-ok", "result": result_document(3), "downloads": downloads})


def script_job(server: ScriptedServer, statuses: list[Answer]) -> None:
    server.script["/jobs"] = [
        Answer(
            201,
            {
                "job_id": "job-1",
                "status": "awaiting_upload",
                "upload": {"url": f"{server.url}/bucket", "fields": {"key": "uploads/jobs/job-1/a.wav"}},
                "status_url": f"{server.url}/jobs/job-1",
            },
        )
    ]
    server.script["/bucket"] = [Answer(204, b"")]
    server.script["/jobs/job-1"] = statuses
    server.script["/stored.json"] = [Answer(200, result_document(4))]


def client(server: ScriptedServer, **options: float) -> Client:
    return Client(server.url, api_key=SECRET, **{"backoff_s": 0.01, "max_retries": 3, **options})  # type: ignore[arg-type]


def cli(server: ScriptedServer, tmp_path: Path, *args: str, job: bool = False) -> subprocess.CompletedProcess[str]:
    """The command on a small file, or (job) one over the request limit, which it sends as a job."""
    audio = tmp_path / "a.wav"
    audio.write_bytes(AUDIO + (b"\0" * 4_600_000 if job else b""))
    executable = Path(sys.executable).with_name("audio-inference")
    environ = {**os.environ, "AUDIO_INFERENCE_API_KEY": SECRET}
    return subprocess.run(
        [str(executable), "transcribe", str(audio), "--url", server.url, *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def test_503_twice_then_200_is_retried(server: ScriptedServer) -> None:
    server.script["/predict"] = [error(503, "unavailable"), error(503, "unavailable"), predict_ok(server)]
    result = client(server).transcribe(AUDIO)
    assert len(server.requests_to("/predict")) == 3
    assert result.via == "predict" and len(result.notes) == 3


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retries_are_bounded(server: ScriptedServer, status: int) -> None:
    server.script["/predict"] = [error(status, "busy")]
    with pytest.raises(ServiceError) as raised:
        client(server, max_retries=2).transcribe(AUDIO)
    assert len(server.requests_to("/predict")) == 3  # the first try and two retries
    assert (raised.value.status, raised.value.code, raised.value.request_id) == (status, "busy", "req-1")


@pytest.mark.parametrize("status, kind", [(400, BadInputError), (403, BadInputError), (500, ServiceError)])
def test_other_statuses_are_not_retried(server: ScriptedServer, status: int, kind: type[Exception]) -> None:
    server.script["/predict"] = [error(status, "nope")]
    with pytest.raises(kind):
        client(server).transcribe(AUDIO)
    assert len(server.requests_to("/predict")) == 1


def test_the_command_exits_3_when_the_service_keeps_failing(server: ScriptedServer, tmp_path: Path) -> None:
    server.script["/predict"] = [error(503, "unavailable", "service down")]
    done = cli(server, tmp_path)
    assert done.returncode == 3
    assert "service down (HTTP 503 unavailable, request req-1)" in done.stderr
    assert len(server.requests_to("/predict")) == 5  # the command's default: four retries
    assert SECRET not in done.stdout + done.stderr


def test_a_job_that_does_not_finish_times_out(server: ScriptedServer, tmp_path: Path) -> None:
    script_job(server, [Answer(200, {"job_id": "job-1", "status": "running"})])
    with pytest.raises(TranscriptionTimeout, match="job job-1 was still running"):
        client(server, timeout=1.0, poll_interval_s=0.1, sync_limit_bytes=10).transcribe(AUDIO)
    assert len(server.requests_to("/jobs/job-1")) >= 3  # polled, with growing intervals

    done = cli(server, tmp_path, "--timeout", "1", job=True)
    assert done.returncode == 4 and "job job-1 was still running" in done.stderr


def test_a_request_that_hangs_times_out(server: ScriptedServer) -> None:
    server.script["/predict"] = [Answer(200, {}, delay_s=3.0)]
    with pytest.raises(TranscriptionTimeout) as raised:
        client(server, request_timeout=0.5).transcribe(AUDIO)
    assert raised.value.code == "request_timeout"


def test_the_job_flow_and_where_the_key_goes(server: ScriptedServer) -> None:
    script_job(
        server,
        [
            Answer(200, {"job_id": "job-1", "status": "queued"}),
            Answer(200, {"job_id": "job-1", "status": "running"}),
            Answer(
                200,
                {
                    "job_id": "job-1",
                    "status": "succeeded",
                    "result": {"json_url": f"{server.url}/stored.json", "midi_url": f"{server.url}/stored.mid"},
                },
            ),
        ],
    )
    server.script["/stored.mid"] = [Answer(200, b"MThd\0\0\0\x06")]
    seen: list[str] = []
    result = client(server, poll_interval_s=0.05, sync_limit_bytes=10).transcribe(
        AUDIO, on_job=lambda status, _: seen.append(status)
    )
    result.save_midi(os.devnull)
    assert result.via == "job" and result.reference == "job-1" and len(result.notes) == 4
    assert seen == ["queued", "running", "succeeded"]
    for seen_request in server.seen:  # the key to the API's URLs, never to storage
        sent = seen_request.headers.get("x-api-key")
        api = seen_request.path.startswith("/jobs")
        assert sent == (SECRET if api else None), seen_request.path
    assert SECRET not in repr(client(server)) and SECRET not in repr(result)


def test_audio_too_long_for_a_request_falls_back_to_a_job(server: ScriptedServer) -> None:
    server.script["/predict"] = [error(413, "audio_too_long", "longer than 600 s")]
    script_job(server, [Answer(200, {"job_id": "job-1", "status": "succeeded", "result": {
        "json_url": f"{server.url}/stored.json", "midi_url": f"{server.url}/stored.mid"}})])  # fmt: skip
    result = client(server).transcribe(AUDIO)
    assert result.via == "job" and len(server.requests_to("/predict")) == 1


@pytest.mark.parametrize(
    "code, kind, exit_code", [("undecodable_audio", BadAudioJobError, 2), ("worker_failed", JobFailedError, 3)]
)
def test_a_failed_job_says_why(
    server: ScriptedServer, tmp_path: Path, code: str, kind: type[Exception], exit_code: int
) -> None:
    script_job(
        server, [Answer(200, {"job_id": "job-1", "status": "failed", "error": {"code": code, "message": "why"}})]
    )
    with pytest.raises(kind, match="why"):
        client(server, sync_limit_bytes=10).transcribe(AUDIO)
    done = cli(server, tmp_path, job=True)
    assert done.returncode == exit_code and f"why ({code}, job job-1)" in done.stderr


def test_parameters_are_checked_before_any_request(server: ScriptedServer) -> None:
    with pytest.raises(BadInputError, match="unknown parameter 'onset'"):
        client(server).transcribe(AUDIO, onset=0.5)
    with pytest.raises(BadInputError, match="melodia_trick must be true or false"):
        client(server).transcribe(AUDIO, melodia_trick=1)
    assert server.seen == []

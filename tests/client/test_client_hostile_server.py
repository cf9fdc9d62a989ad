"""The client against hostile servers on loopback (issue #27): it holds its key, its deadline and its
memory whatever an answer says, and an answer off the API's contract is a ProtocolError (the command:
one line, exit 5), never a traceback.

- URLs: a `status_url` that two URL parsers read differently (`\\@`, userinfo) never reaches the other
  host (127.0.0.2 records what it gets) and is refused before the upload; storage links are https, or
  http on loopback: never `file://`, never plain http to another machine; a redirect loop ends.
- The deadline: `Retry-After: 999999`, an HTTP date in 2099, a body or headers sent a byte at a time
  all end at `--timeout`, give or take a few seconds (the timings are loose: the machine is shared).
- Off-contract answers and oversized ones: ProtocolError showing the first bytes, made printable; a
  server's error message with ANSI escapes is shown escaped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audio_inference_client import (
    BadInputError,
    Client,
    JobFailedError,
    ProtocolError,
    ServiceError,
    TranscriptionTimeout,
    transport,
)
from audio_inference_client import cli as command
from audio_inference_client.errors import printable
from audio_inference_client.transport import retry_after_s
from audio_inference_client.urls import UnsafeUrl, checked, storage_link

from tests.client.scripted_server import Answer, ScriptedServer, error, result_document

AUDIO = b"RIFF" + b"\0" * 2000
SECRET = "SECRETKEY123-hostile"
MARGIN_S = 10.0
"""How far past its timeout a call may end here: far more than it needs, the machine being shared."""


@pytest.fixture()
def api() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as running:
        yield running


@pytest.fixture()
def attacker() -> Iterator[ScriptedServer]:
    """Another host (127.0.0.2): it must never see a request with the key, nor an upload."""
    with ScriptedServer("127.0.0.2").running() as running:
        running.script["/jobs/job-1"] = [Answer(200, {"job_id": "job-1", "status": "running"})]
        yield running


def keyed(api: ScriptedServer, **options: Any) -> Client:
    settings = {"backoff_s": 0.01, "max_retries": 2, "poll_interval_s": 0.01, **options}
    return Client(api.url, api_key=SECRET, **settings)


def job_answer(api: ScriptedServer, *, status_url: str | None = None, upload_url: str | None = None) -> Answer:
    return Answer(
        201,
        {
            "job_id": "job-1",
            "status": "awaiting_upload",
            "upload": {
                "url": f"{api.url}/bucket" if upload_url is None else upload_url,
                "fields": {"key": "uploads/jobs/job-1/a.wav"},
            },
            "status_url": f"{api.url}/jobs/job-1" if status_url is None else status_url,
        },
    )


def script_job(api: ScriptedServer, statuses: list[Answer] | None = None, **urls: str) -> None:
    api.script["/jobs"] = [job_answer(api, **urls)]
    api.script["/bucket"] = [Answer(204, b"")]
    api.script["/jobs/job-1"] = statuses or [succeeded(api)]
    api.script["/stored.json"] = [Answer(200, result_document(3))]


def succeeded(api: ScriptedServer, **result: Any) -> Answer:
    links = {"json_url": f"{api.url}/stored.json", "midi_url": f"{api.url}/stored.mid", **result}
    return Answer(200, {"job_id": "job-1", "status": "succeeded", "result": links})


def predict_ok(api: ScriptedServer, **downloads: Any) -> Answer:
    links = {"json_url": f"{api.url}/stored.json", "midi_url": f"{api.url}/stored.mid", **downloads}
    return Answer(200, {"request_id": "req-ok", "result": result_document(3), "downloads": links})


def run(api: ScriptedServer, tmp_path: Path, *args: str, job: bool = False) -> subprocess.CompletedProcess[str]:
    """The installed command (the venv's bin on PATH) on a small file, or one over the request limit."""
    audio = tmp_path / "a.wav"
    audio.write_bytes(AUDIO + (b"\0" * 4_600_000 if job else b""))
    bin_dir = str(Path(sys.executable).parent)
    environ = {**os.environ, "AUDIO_INFERENCE_API_KEY": SECRET, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["audio-inference", "transcribe", str(audio), "--url", api.url, *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def main(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, job: bool = False
) -> tuple[int, str]:
    """cli.main in this process (faster than a subprocess): its exit code and its stderr."""
    audio = tmp_path / "a.wav"
    audio.write_bytes(AUDIO + (b"\0" * 4_600_000 if job else b""))
    code = command.main(["transcribe", str(audio), "--url", api.url, "--api-key", SECRET, *args])
    return code, capsys.readouterr().err


def assert_one_clean_line(stderr: str) -> None:
    """What the command prints on failure: one line, printable, no traceback, no `None`, no key."""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith("audio-inference: "), stderr
    assert "Traceback" not in stderr and "None" not in stderr and SECRET not in stderr
    assert all(char.isprintable() for char in stderr.rstrip("\n")), repr(stderr)


# URLs: one parser decides the origin and the connection ---------------------------------------------


def hostile_status_urls(api: ScriptedServer, attacker: ScriptedServer) -> list[str]:
    return [
        f"http://127.0.0.2:{attacker.port}\\@127.0.0.1:{api.port}/jobs/job-1",  # urllib3: host before the \
        f"http://127.0.0.2:{attacker.port}\\\\@127.0.0.1:{api.port}/jobs/job-1",
        f"http://127.0.0.2:{attacker.port}@127.0.0.1:{api.port}/jobs/job-1",  # userinfo
        f"http://127.0.0.1:{api.port}@127.0.0.2:{attacker.port}/jobs/job-1",
        f"http://x:y@127.0.0.1:{api.port}/jobs/job-1",  # userinfo, even on the API's own host
        f"http://127.0.0.2:{attacker.port}%5C@127.0.0.1:{api.port}/jobs/job-1",
        f"http://127.0.0.2:{attacker.port}\t@127.0.0.1:{api.port}/jobs/job-1",
        f"http://127.0.0.2:{attacker.port}/jobs/job-1",  # plainly another host
        f"//127.0.0.2:{attacker.port}/jobs/job-1",
        f"https://127.0.0.1:{api.port}/jobs/job-1",  # another scheme: another origin
    ]


def test_a_status_url_read_differently_by_two_parsers_never_reaches_the_other_host(
    api: ScriptedServer, attacker: ScriptedServer
) -> None:
    for status_url in hostile_status_urls(api, attacker):
        script_job(api, status_url=status_url)
        with pytest.raises(ProtocolError) as refused:
            keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
        assert refused.value.code in ("unsafe_url", "foreign_url"), status_url
        assert SECRET not in str(refused.value)
    assert attacker.seen == [], "the other host was contacted"
    assert api.requests_to("/bucket") == [], "the upload went ahead before the status URL was checked"
    assert all(seen.path == "/jobs" for seen in api.seen)


@pytest.mark.slow
def test_the_command_refuses_the_backslash_status_url_in_one_line(
    api: ScriptedServer, attacker: ScriptedServer, tmp_path: Path
) -> None:
    script_job(api, status_url=f"http://127.0.0.2:{attacker.port}\\@127.0.0.1:{api.port}/jobs/job-1")
    done = run(api, tmp_path, job=True)
    assert done.returncode == 5, done.stderr
    assert_one_clean_line(done.stderr)
    assert "backslash" in done.stderr
    assert attacker.seen == [] and api.requests_to("/bucket") == []


def test_a_relative_status_url_is_the_apis(api: ScriptedServer) -> None:
    script_job(api, status_url="/jobs/job-1")
    result = keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    assert result.via == "job" and len(api.requests_to("/jobs/job-1")) == 1


@pytest.mark.parametrize(
    "upload_url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/bucket",
        "http://storage.example.com/bucket",  # plain http off loopback
        "http://10.1.2.3/bucket",
        "http://user:pass@127.0.0.1/bucket",
        "https://127.0.0.2\\@storage.example.com/bucket",
        "javascript:alert(1)",
        "",
    ],
)
def test_an_upload_url_the_client_will_not_use_is_refused_before_anything_is_sent(
    api: ScriptedServer, attacker: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], upload_url: str
) -> None:
    script_job(api, upload_url=upload_url)
    with pytest.raises(ProtocolError):
        keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    code, stderr = main(api, tmp_path, capsys, job=True)
    assert code == 5
    assert_one_clean_line(stderr)
    assert api.requests_to("/bucket") == [] and attacker.seen == []
    assert [seen.path for seen in api.seen] == ["/jobs", "/jobs"]


@pytest.mark.parametrize(
    "link",
    ["file:///etc/passwd", "http://storage.example.com/r.json", "https://u@storage.example.com/r.json", "data:,{}"],
)
def test_result_links_the_client_will_not_follow_are_refused(api: ScriptedServer, link: str) -> None:
    script_job(api, [succeeded(api, json_url=link)])
    with pytest.raises(ProtocolError, match="json_url"):
        keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    api.script["/predict"] = [predict_ok(api, midi_url=link)]
    with pytest.raises(ProtocolError, match="midi_url"):
        keyed(api).transcribe(AUDIO)


def test_a_redirect_loop_on_a_storage_link_ends(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script["/predict"] = [predict_ok(api)]
    api.script["/stored.mid"] = [Answer(302, b"", headers={"Location": "/stored.mid"})]
    result = keyed(api).transcribe(AUDIO)
    with pytest.raises(ProtocolError, match="redirect") as looped:
        result.save_midi(tmp_path / "a.mid")
    assert looped.value.code == "too_many_redirects"
    assert len(api.requests_to("/stored.mid")) == transport.MAX_REDIRECTS + 1
    code, stderr = main(api, tmp_path, capsys, "--midi", str(tmp_path / "b.mid"))
    assert code == 5 and "redirect" in stderr
    assert_one_clean_line(stderr)
    assert not (tmp_path / "a.mid").exists() and not (tmp_path / "b.mid").exists()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "http://storage.example.com/a.mid", "gopher://x/"])
def test_a_storage_redirect_is_checked_like_a_link(api: ScriptedServer, tmp_path: Path, location: str) -> None:
    api.script["/predict"] = [predict_ok(api)]
    api.script["/stored.mid"] = [Answer(302, b"", headers={"Location": location})]
    with pytest.raises(ProtocolError, match="the MIDI download"):
        keyed(api).transcribe(AUDIO).save_midi(tmp_path / "a.mid")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/v1/jobs/x",
        "https://API.example.com:443/v1",
        "http://127.0.0.1:8080/jobs/x",
        "http://[::1]:8080/jobs",
        "https://bucket.s3.eu-west-1.amazonaws.com/key?X-Amz-Signature=ab%2Fcd&x=@y",
    ],
)
def test_urls_the_client_uses(url: str) -> None:
    checked(url)
    assert checked("https://API.example.com:443/v1") == checked("https://api.example.com/other")


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example\\@api.example.com/v1/jobs/x",
        "https://attacker.example/\\@api.example.com",
        "https://user@api.example.com/",
        "https://:@api.example.com/",
        "https://api.example.com /",
        "https://api.example.com\n.evil/",
        "https://api.exämple.com/",
        "https://api.example.com%2f.evil/",
        "https://api.example.com:99999/",
        "https://api.example.com:0/",
        "file:///etc/passwd",
        "ftp://api.example.com/",
        "/v1/jobs/x",
        "https://",
        "",
        None,
        42,
    ],
)
def test_urls_the_client_refuses(url: object) -> None:
    with pytest.raises(UnsafeUrl):
        checked(url)


def test_storage_links_are_https_or_loopback_http() -> None:
    for url in ("https://bucket.example.com/k", "http://127.0.0.1:4566/k", "http://localhost:9000/k"):
        storage_link(url)
    for url in ("http://bucket.example.com/k", "http://10.0.0.1/k", "http://[2001:db8::1]/k"):
        with pytest.raises(UnsafeUrl, match="plain http"):
            storage_link(url)


def test_an_api_url_with_userinfo_or_a_backslash_is_refused() -> None:
    for url in ("http://u:p@127.0.0.1:8080", "https://a.example\\@b.example/v1", "https://a.example/\x1b[31m"):
        with pytest.raises(BadInputError) as refused:
            Client(url, api_key=SECRET)
        assert refused.value.code == "bad_url" and "\x1b" not in str(refused.value)


# The deadline: retries, Retry-After and slow answers end at the call's timeout ---------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "status, retry_after", [(503, "999999"), (429, "Wed, 21 Oct 2099 07:28:00 GMT"), (503, "9" * 40)]
)
def test_a_huge_retry_after_ends_at_the_timeout(
    api: ScriptedServer, tmp_path: Path, status: int, retry_after: str
) -> None:
    api.script["/predict"] = [
        Answer(status, {"error": {"code": "busy", "message": "later"}}, {"Retry-After": retry_after})
    ]
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout, match="Retry-After") as raised:
        keyed(api, timeout=3.0, max_retries=4).transcribe(AUDIO)
    assert time.monotonic() - started < 3.0 + MARGIN_S
    assert raised.value.status == status

    started = time.monotonic()
    done = run(api, tmp_path, "--timeout", "3")
    assert time.monotonic() - started < 3.0 + MARGIN_S
    assert done.returncode == 4, done.stderr
    assert_one_clean_line(done.stderr)


def test_retry_after_is_capped(api: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Retry-After far past the cap waits the cap (here made 0.2 s), then retries."""
    monkeypatch.setattr(transport, "RETRY_AFTER_CAP_S", 0.2)
    busy = Answer(503, {"error": {"code": "busy", "message": "later"}}, {"Retry-After": "999999"})
    api.script["/predict"] = [busy, busy, predict_ok(api)]
    started = time.monotonic()
    result = keyed(api, timeout=60.0, max_retries=3).transcribe(AUDIO)
    assert result.via == "predict" and len(api.requests_to("/predict")) == 3
    assert time.monotonic() - started < 30


def test_retry_after_values() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(" 0 ") == 0.0
    assert retry_after_s("9" * 40) == float("inf")
    assert (retry_after_s("Wed, 21 Oct 2099 07:28:00 GMT") or 0) > 50 * 365 * 24 * 3600
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None and retry_after_s("-5") is None


@pytest.mark.slow
def test_a_trickling_answer_ends_at_the_timeout(api: ScriptedServer, tmp_path: Path) -> None:
    """A byte every 0.5 s keeps every socket read alive: only a deadline ends it."""
    trickle = Answer(200, b'{"request_id": "r", "result": ' + b" " * 1000 + b"}", trickle_s=0.5)
    api.script["/predict"] = [trickle]
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout) as raised:
        keyed(api, timeout=3.0, request_timeout=2.0).transcribe(AUDIO)
    assert time.monotonic() - started < 3.0 + MARGIN_S
    assert raised.value.code == "timeout" and "3 s timeout" in raised.value.message

    started = time.monotonic()
    done = run(api, tmp_path, "--timeout", "3")
    assert time.monotonic() - started < 3.0 + MARGIN_S
    assert done.returncode == 4, done.stderr
    assert_one_clean_line(done.stderr)


@pytest.mark.slow
def test_trickling_headers_and_a_trickling_download_end_at_the_timeout(api: ScriptedServer, tmp_path: Path) -> None:
    api.script["/health"] = [Answer(200, raw=b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, trickle_s=0.5)]
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout):
        keyed(api, timeout=3.0).health()
    assert time.monotonic() - started < 3.0 + MARGIN_S

    script_job(api)
    api.script["/stored.json"] = [Answer(200, b" " * 1000 + b"{}", trickle_s=0.5)]
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout):
        keyed(api, timeout=3.0, sync_limit_bytes=10).transcribe(AUDIO)
    assert time.monotonic() - started < 3.0 + MARGIN_S

    api.script["/predict"] = [predict_ok(api)]
    api.script["/stored.mid"] = [Answer(200, b"MThd" + b"\0" * 1000, trickle_s=0.5)]
    result = keyed(api, timeout=3.0).transcribe(AUDIO)
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout):
        result.save_midi(tmp_path / "a.mid")
    assert time.monotonic() - started < 3.0 + MARGIN_S
    assert not (tmp_path / "a.mid").exists()


# Off-contract answers: a ProtocolError with the first bytes, never a KeyError ----------------------


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != key}


def _bad_note() -> dict[str, Any]:
    document = result_document(2)
    document["notes"][1]["start_s"] = "x"
    return document


PREDICT_ANSWERS: dict[str, Any] = {
    "a JSON list": [1, 2, 3],
    "not JSON": b"<html>\x1b[31mhello</html>",
    "JSON with NaN": b'{"result": NaN}',
    "nested too deep": b"[" * 100_000 + b"]" * 100_000,
    "no downloads": {"request_id": "r", "result": result_document(2)},
    "no result": {"request_id": "r", "downloads": {}},
    "a result without notes": {"request_id": "r", "result": _without(result_document(2), "notes"), "downloads": {}},
    "a note with start_s 'x'": {"request_id": "r", "result": _bad_note(), "downloads": {}},
    "a result that is a list": {"request_id": "r", "result": [], "downloads": {}},
    "a result without audio": {"request_id": "r", "result": _without(result_document(2), "audio"), "downloads": {}},
    "notes that are a string": {"request_id": "r", "result": {**result_document(2), "notes": "many"}, "downloads": {}},
    "a request id that is a number": {"request_id": 7, "result": result_document(2), "downloads": {}},
}


@pytest.mark.parametrize("case", list(PREDICT_ANSWERS))
def test_an_off_contract_predict_answer_is_a_protocol_error(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    api.script["/predict"] = [Answer(200, PREDICT_ANSWERS[case])]
    with pytest.raises(ProtocolError) as raised:
        keyed(api).transcribe(AUDIO)
    message = str(raised.value)
    assert "the answer began: " in message and "\x1b" not in message and len(message) < 1000
    assert isinstance(raised.value, ServiceError)  # an `except ServiceError` still catches it
    code, stderr = main(api, tmp_path, capsys)
    assert code == 5
    assert_one_clean_line(stderr)


STATUS_ANSWERS: dict[str, Any] = {
    "a status without status": {"job_id": "job-1"},
    "a status that is a list": ["succeeded"],
    "a status that is a number": {"job_id": "job-1", "status": 3},
    "a status with escapes": {"job_id": "job-1", "status": "\x1b[2Jrunning"},
    "succeeded without result": {"job_id": "job-1", "status": "succeeded"},
    "succeeded without json_url": {"job_id": "job-1", "status": "succeeded", "result": {"midi_url": None}},
    "a json_url that is a number": {"job_id": "job-1", "status": "succeeded", "result": {"json_url": 5}},
    "failed with an error that is a string": {"job_id": "job-1", "status": "failed", "error": "boom"},
}


@pytest.mark.parametrize("case", list(STATUS_ANSWERS))
def test_an_off_contract_job_status_is_a_protocol_error(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    script_job(api, [Answer(200, STATUS_ANSWERS[case])])
    with pytest.raises(ProtocolError) as raised:
        keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    assert "the answer began: " in str(raised.value) and "\x1b" not in str(raised.value)
    code, stderr = main(api, tmp_path, capsys, job=True)
    assert code == 5
    assert_one_clean_line(stderr)


UPLOAD = {"url": "https://b.example.com/", "fields": {}}


@pytest.mark.parametrize(
    "created",
    [
        {"job_id": "job-1", "upload": UPLOAD},  # no status_url
        {"job_id": "job-1", "status_url": "/jobs/job-1"},  # no upload
        {"job_id": "job-1", "status_url": "/jobs/job-1", "upload": {**UPLOAD, "fields": []}},
        {"job_id": "job-1", "status_url": "/jobs/job-1", "upload": {**UPLOAD, "fields": {"k": 1}}},
        {"job_id": "job-1", "status_url": "/jobs/job-1", "upload": {"fields": {}}},
        {"job_id": "../../x\x1b", "status_url": "/jobs/job-1", "upload": UPLOAD},
        {"status_url": "/jobs/job-1", "upload": UPLOAD},  # no job_id
        {"job_id": "job-1", "status_url": None, "upload": UPLOAD},
    ],
)
def test_an_off_contract_job_answer_is_a_protocol_error(api: ScriptedServer, created: dict[str, Any]) -> None:
    api.script["/jobs"] = [Answer(201, created)]
    with pytest.raises(ProtocolError) as raised:
        keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    assert "\x1b" not in str(raised.value)
    assert [seen.path for seen in api.seen] == ["/jobs"]


def test_an_off_contract_stored_result_is_a_protocol_error(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script_job(api)
    for stored in ([result_document(2)], {"model": {"name": "basic-pitch"}}, b"\x00\x01binary", _bad_note()):
        api.script["/stored.json"] = [Answer(200, stored)]
        with pytest.raises(ProtocolError, match="the answer began"):
            keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
        code, stderr = main(api, tmp_path, capsys, job=True)
        assert code == 5
        assert_one_clean_line(stderr)


def test_an_unknown_job_state_is_polled_and_an_expired_job_is_reported(api: ScriptedServer) -> None:
    script_job(
        api,
        [
            Answer(200, {"job_id": "job-1", "status": "warming_up"}),
            Answer(200, {"job_id": "job-1", "status": "expired"}),
        ],
    )
    with pytest.raises(JobFailedError, match="expired") as raised:
        keyed(api, sync_limit_bytes=10).transcribe(AUDIO)
    assert raised.value.code == "job_expired"


# Sizes: every answer read under a cap; a server's message made printable ---------------------------


@pytest.mark.slow
@pytest.mark.parametrize("declare_length", [True, False])
def test_an_oversized_answer_is_cut_off(api: ScriptedServer, tmp_path: Path, declare_length: bool) -> None:
    """64 MB and a bit: refused from its Content-Length, or cut off while it arrives."""
    chunk = b" " * (1024 * 1024)
    repeat = transport.JSON_LIMIT_BYTES // len(chunk) + 2
    api.script["/predict"] = [Answer(200, chunk, repeat=repeat, declare_length=declare_length)]
    with pytest.raises(ProtocolError, match="cap") as raised:
        keyed(api).transcribe(AUDIO)
    assert raised.value.code == "answer_too_large"

    api.script["/predict"] = [predict_ok(api)]
    api.script["/stored.mid"] = [Answer(200, b"MThd" + chunk, repeat=repeat, declare_length=declare_length)]
    with pytest.raises(ProtocolError, match="cap"):
        keyed(api).transcribe(AUDIO).save_midi(tmp_path / "a.mid")
    assert not (tmp_path / "a.mid").exists()


def test_a_huge_error_answer_is_read_only_in_part(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script["/predict"] = [error(400, "bad", "\x1b[31m" + "A" * 5_000_000)]
    with pytest.raises(BadInputError) as raised:
        keyed(api).transcribe(AUDIO)
    assert len(str(raised.value)) < 2000 and "\x1b" not in str(raised.value)
    code, stderr = main(api, tmp_path, capsys)
    assert code == 2 and len(stderr) < 2100
    assert_one_clean_line(stderr)


def test_a_servers_error_message_is_shown_escaped(
    api: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "\x1b[2J\x1b[31mred alert\x1b[0m\r\nfake: line \u202eevil"
    api.script["/predict"] = [error(422, "bad\x1b[1m", hostile, request_id="req\x07-1")]
    with pytest.raises(BadInputError) as raised:
        keyed(api).transcribe(AUDIO)
    shown = str(raised.value)
    assert "\\x1b[31mred alert\\x1b[0m\\r\\nfake: line \\u202eevil" in shown
    assert "\\x1b[1m" in raised.value.code and "\\x07" in (raised.value.request_id or "")
    code, stderr = main(api, tmp_path, capsys)
    assert code == 2 and "\\x1b[31mred alert" in stderr
    assert_one_clean_line(stderr)

    api.script["/predict"] = [Answer(500, b"\x1b]0;pwned\x07", headers={"Content-Type": "text/plain"})]
    code, stderr = main(api, tmp_path, capsys)
    assert code == 3
    assert_one_clean_line(stderr)


def test_printable() -> None:
    assert printable("a\x1b[31mb\nc\u202ed") == "a\\x1b[31mb\\nc\\u202ed"
    assert printable("x" * 500, 20) == "x" * 20 + "... (500 characters in all)"
    assert printable(b"\xff\x00ok") == "\\xff\\x00ok"
    assert printable("naïve — 日本") == "naïve — 日本"


def test_the_commands_help_documents_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        command.main(["transcribe", "--help"])
    assert exited.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 ok, 2 bad input, 3 service error, 4 timed out" in shown
    assert "5 the service answered off the API's contract" in shown and "1 an unexpected error" in shown
    with pytest.raises(SystemExit):
        command.main(["transcribe-dir", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # a folder's run ends 0, 3, 2 or 130: never 4 or 5
    assert "exit codes: 0 every file done, 3 some failed (listed; a file over its --timeout is one of them)" in shown
    assert "130 stopped by Ctrl-C" in shown and "4 timed out" not in shown


def test_an_answer_over_lambdas_limit_is_followed_to_the_stored_result(api: ScriptedServer) -> None:
    """The service answers a result over 6 MB with its links (`result_in_downloads`): the client downloads
    the stored document, without the key, and returns it as if it had come in the answer."""
    stored = result_document(3)
    api.script["/stored/result.json"] = [Answer(200, stored)]
    api.script["/predict"] = [
        Answer(
            200,
            {
                "request_id": "r-big",
                "result_in_downloads": {"reason": "over 6 MB", "size_bytes": 7_000_000, "summary": {"notes_count": 3}},
                "downloads": {"json_url": f"{api.url}/stored/result.json", "expires_in_s": 3600},
            },
        )
    ]
    result = keyed(api).transcribe(AUDIO)
    assert len(result.notes) == 3 and result.via == "predict"
    download = next(seen for seen in api.seen if seen.path == "/stored/result.json")
    assert "x-api-key" not in download.headers

"""The API key stays home: hostile fake APIs on loopback try to pull it to another origin (a status_url
on another port, a redirect to another port) and a second server records whether it ever arrives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audio_inference_client import BadInputError, Client, ServiceError

from tests.client.scripted_server import Answer, ScriptedServer, result_document

AUDIO = b"RIFF" + b"\0" * 2000
SECRET = "k3y-that-must-stay-home"


@pytest.fixture()
def api() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as running:
        yield running


@pytest.fixture()
def elsewhere() -> Iterator[ScriptedServer]:
    """Another origin (same host, another port): it must never see the key."""
    with ScriptedServer().running() as running:
        running.script["/health"] = [Answer(200, {"status": "ok"})]
        running.script["/jobs/job-1"] = [Answer(200, {"job_id": "job-1", "status": "running"})]
        yield running


def keyed(api: ScriptedServer) -> Client:
    return Client(api.url, api_key=SECRET, backoff_s=0.01, max_retries=1, poll_interval_s=0.01)


def test_a_status_url_on_another_origin_is_refused_before_any_request(api, elsewhere):
    api.script["/jobs"] = [
        Answer(
            201,
            {
                "job_id": "job-1",
                "status": "awaiting_upload",
                "upload": {"url": f"{api.url}/bucket", "fields": {"key": "uploads/jobs/job-1/a.wav"}},
                "status_url": f"{elsewhere.url}/jobs/job-1",
            },
        )
    ]
    api.script["/bucket"] = [Answer(204, b"")]
    with pytest.raises(ServiceError) as raised:
        Client(api.url, api_key=SECRET, sync_limit_bytes=10, poll_interval_s=0.01).transcribe(AUDIO)
    assert raised.value.code == "foreign_url"
    assert elsewhere.seen == [], "the other origin was contacted"
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_on_a_keyed_call_is_not_followed(api, elsewhere, status):
    api.script["/health"] = [Answer(status, b"", headers={"Location": f"{elsewhere.url}/health"})]
    with pytest.raises(ServiceError) as raised:
        keyed(api).health()
    assert (raised.value.code, raised.value.status) == ("redirected", status)
    assert elsewhere.seen == []
    assert [s.headers.get("x-api-key") for s in api.seen] == [SECRET]


def test_a_redirect_on_predict_is_not_followed_either(api, elsewhere):
    api.script["/predict"] = [Answer(307, b"", headers={"Location": f"{elsewhere.url}/predict"})]
    with pytest.raises(ServiceError):
        keyed(api).transcribe(AUDIO)
    assert elsewhere.seen == []


def test_a_redirect_to_the_same_origin_is_not_followed_with_the_key_either(api):
    """Even on the API's own origin a redirect is reported, not followed: the key is sent to URLs the
    caller chose, never to ones an answer chose."""
    api.script["/health"] = [Answer(302, b"", headers={"Location": f"{api.url}/elsewhere"})]
    with pytest.raises(ServiceError):
        keyed(api).health()
    assert [s.path for s in api.seen] == ["/health"]


def test_storage_links_get_no_key_and_may_redirect(api, elsewhere, tmp_path):
    """Presigned storage URLs carry no key, so following their redirects leaks nothing."""
    elsewhere.script["/stored.json"] = [Answer(200, result_document(2))]
    api.script["/predict"] = [
        Answer(
            200,
            {
                "request_id": "r",
                "result": result_document(2),
                "downloads": {"json_url": "", "midi_url": f"{api.url}/stored.mid", "expires_in_s": 60},
            },
        )
    ]
    api.script["/stored.mid"] = [Answer(302, b"", headers={"Location": f"{elsewhere.url}/stored.mid"})]
    elsewhere.script["/stored.mid"] = [Answer(200, b"MThd\0\0\0\x06")]
    saved = keyed(api).transcribe(AUDIO).save_midi(tmp_path / "a.mid")
    assert saved.read_bytes() == b"MThd\0\0\0\x06"
    assert [s.path for s in elsewhere.seen] == ["/stored.mid"]
    assert all(s.headers.get("x-api-key") is None for s in elsewhere.seen)


@pytest.mark.parametrize("url", ["http://api.example.com/v1", "http://10.0.0.5:8080", "http://[2001:db8::1]/v1"])
def test_a_key_over_plain_http_to_another_machine_is_refused(url):
    with pytest.raises(BadInputError) as raised:
        Client(url, api_key=SECRET)
    assert raised.value.code == "insecure_url" and "https" in raised.value.message
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://api.example.com/v1"]
)
def test_https_or_loopback_is_accepted(url):
    Client(url, api_key=SECRET).close()
    Client("http://api.example.com/v1").close()  # no key, nothing to leak

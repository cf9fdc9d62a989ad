"""Silero VAD through `make serve`'s server: /predict and a job, both following openapi.yaml."""

from __future__ import annotations

import pytest
import requests

from inference.testing.speech import SpeechScene, have_espeak, speech_scene, speech_time_scores
from tests.service.test_jobs_api import create, poll
from tests.support.components import missing
from tests.support.service import LocalServer, assert_follows_contract, contract


@pytest.fixture(scope="module")
def scene() -> SpeechScene:
    if not have_espeak():
        missing("espeak-ng is not installed (make speech installs it)")
    return speech_scene(11, utterances=4)


def test_health_lists_both_models_with_their_checksums(local_server: LocalServer) -> None:
    response = requests.get(f"{local_server.url}/health", timeout=10)
    assert_follows_contract(contract(local_server.url), response)
    body = response.json()
    assert [m["name"] for m in body["models"]] == ["basic-pitch", "silero-vad"]
    assert body["model"] == body["models"][0]
    assert body["models"][1]["version"] == "6.2.3"


def test_predict_finds_the_speech_and_stores_only_json(local_server: LocalServer, scene: SpeechScene) -> None:
    response = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("talk.wav", scene.wav_bytes(), "audio/wav")},
        data={"model": "silero-vad", "min_silence_duration_ms": "200"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert_follows_contract(contract(local_server.url), response)
    body = response.json()
    result = body["result"]
    assert result["model"]["name"] == "silero-vad" and result["parameters"]["min_silence_duration_ms"] == 200
    found = [(s["start_s"], s["end_s"]) for s in result["segments"]]
    precision, recall = speech_time_scores(scene.speech, found, scene.duration_s)
    assert len(found) == 4 and precision >= 0.9 and recall >= 0.9
    assert set(body["downloads"]) == {"json_url", "expires_in_s"}
    assert requests.get(body["downloads"]["json_url"], timeout=10).json() == result


@pytest.mark.parametrize(
    ("fields", "headers", "status", "code"),
    [
        ({"model": "silero-vad", "onset_threshold": "0.5"}, {}, 422, "invalid_parameter"),
        ({"threshold": "0.5"}, {}, 422, "invalid_parameter"),
        ({"model": "silero-vad", "threshold": "0"}, {}, 422, "invalid_parameter"),
        ({"model": "nope"}, {}, 422, "invalid_parameter"),
        ({"model": "silero-vad"}, {"Accept": "audio/midi"}, 406, "not_acceptable"),
    ],
)
def test_a_parameter_of_another_model_or_midi_without_notes_is_refused(
    local_server: LocalServer,
    scene: SpeechScene,
    fields: dict[str, str],
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = local_server.objects()
    response = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("talk.wav", scene.wav_bytes(), "audio/wav")},
        data=fields,
        headers=headers,
        timeout=60,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert_follows_contract(contract(local_server.url), response)
    assert local_server.objects() == before, "a refused request stores nothing"


def test_a_job_runs_vad_in_the_worker_and_equals_predict(local_server: LocalServer, scene: SpeechScene) -> None:
    api = contract(local_server.url)
    audio = scene.wav_bytes()
    response = create(
        local_server,
        {"filename": "talk.wav", "content_type": "audio/wav", "model": "silero-vad", "parameters": {"threshold": 0.6}},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    form = created["upload"]
    uploaded = requests.post(
        form["url"], data=form["fields"], files={"file": ("t.wav", audio, "audio/wav")}, timeout=60
    )
    assert uploaded.status_code == 204
    job = poll(created["status_url"])
    assert job["status"] == "succeeded" and job["model"] == "silero-vad", job
    assert_follows_contract(api, requests.get(created["status_url"], timeout=10))
    assert "midi_url" not in job["result"] and "notes_count" not in job["result"]
    document = requests.get(job["result"]["json_url"], timeout=10).json()
    assert job["result"]["segments_count"] == len(document["segments"]) == 4
    assert job["result"]["speech_ratio"] == document["speech_ratio"]
    direct = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("talk.wav", audio, "audio/wav")},
        data={"model": "silero-vad", "threshold": "0.6"},
        timeout=60,
    ).json()["result"]
    assert document == direct


def test_a_job_names_the_model_at_the_top_level(local_server: LocalServer) -> None:
    body = {"filename": "a.wav", "content_type": "audio/wav", "parameters": {"model": "silero-vad"}}
    response = create(local_server, body)
    assert response.status_code == 400 and "top-level field 'model'" in response.json()["error"]["message"]
    vad_parameter = {"filename": "a.wav", "content_type": "audio/wav", "parameters": {"speech_pad_ms": 10}}
    refused = create(local_server, vad_parameter)
    assert refused.status_code == 422 and "for model basic-pitch" in refused.json()["error"]["message"]

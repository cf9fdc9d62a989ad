"""A new model is one module: `tests/support/fake_model.py`, registered as a plug-in, served whole.

Nothing of the project is edited for it: the local server (the real handler and jobs worker over the
emulator, as `make serve` runs them) starts with $INFERENCE_MODEL_PLUGINS naming the module and
$INFERENCE_MODELS listing it; the model's artifact sits where pinned artifacts are looked for. The
client then uses it like any other model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from inference.artifact import REPO_MODELS_DIR
from tests.support import fake_model
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract

SECONDS = 3.0


@pytest.fixture(scope="module")
def plugin_server(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    models_dir = tmp_path_factory.mktemp("models")
    for built_in in REPO_MODELS_DIR.iterdir():
        if built_in.is_dir():
            (models_dir / built_in.name).symlink_to(built_in, target_is_directory=True)
    fake_model.write_artifact(models_dir)
    server = LocalServer(
        tmp_path_factory.mktemp("plugin-serve") / "serve.log",
        environ={
            "INFERENCE_MODEL_PLUGINS": "tests.support.fake_model",
            "INFERENCE_MODELS": "basic-pitch,silero-vad,loudness",
            "INFERENCE_MODELS_DIR": str(models_dir),
        },
    )
    yield server
    server.stop()


def tone() -> bytes:
    t = np.arange(int(SECONDS * 16_000)) / 16_000
    return wav_bytes((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000)


def test_health_lists_the_plugged_in_model(plugin_server: LocalServer) -> None:
    models = requests.get(f"{plugin_server.url}/health", timeout=10).json()["models"]
    assert [m["name"] for m in models] == ["basic-pitch", "silero-vad", "loudness"]
    assert models[2] == {"name": "loudness", "version": "1.0", "sha256": fake_model.ARTIFACT.sha256}


def test_predict_runs_it_with_its_own_parameters(plugin_server: LocalServer) -> None:
    url = f"{plugin_server.url}/predict"
    files = {"file": ("tone.wav", tone(), "audio/wav")}
    answer = requests.post(url, files=files, data={"model": "loudness", "window_s": "0.5"}, timeout=60)
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["model"]["name"] == "loudness" and result["parameters"] == {"window_s": 0.5}
    assert len(result["levels_db"]) == 6 and all(-10 < level < -8 for level in result["levels_db"])  # 0.5 peak
    assert "midi_url" not in answer.json()["downloads"]
    stored = requests.get(answer.json()["downloads"]["json_url"], timeout=10).json()
    assert stored == result
    refused = requests.post(url, files=files, data={"model": "loudness", "onset_threshold": "0.5"}, timeout=60)
    assert refused.status_code == 422 and "allowed window_s" in refused.json()["error"]["message"]
    midi = requests.post(url, files=files, data={"model": "loudness"}, headers={"Accept": "audio/midi"}, timeout=60)
    assert midi.status_code == 406 and midi.json()["error"]["code"] == "not_acceptable"


def test_a_job_runs_it_in_the_worker(plugin_server: LocalServer) -> None:
    created = requests.post(
        f"{plugin_server.url}/jobs",
        json={"filename": "tone.wav", "content_type": "audio/wav", "model": "loudness", "parameters": {"window_s": 1}},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    job = created.json()
    form = job["upload"]
    uploaded = requests.post(form["url"], data=form["fields"], files={"file": ("x", tone(), "audio/wav")}, timeout=30)
    assert uploaded.status_code == 204
    deadline = time.monotonic() + 60
    while (view := requests.get(job["status_url"], timeout=10).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, view
        time.sleep(0.3)
    assert view["status"] == "succeeded" and view["model"] == "loudness", view
    assert_follows_contract(contract(plugin_server.url), requests.get(job["status_url"], timeout=10))
    assert view["result"]["windows_count"] == 3 and "midi_url" not in view["result"]
    document = requests.get(view["result"]["json_url"], timeout=10).json()
    assert document["model"]["name"] == "loudness" and len(document["levels_db"]) == 3


def test_the_client_uses_it_by_name_through_predict_and_a_job(plugin_server: LocalServer) -> None:
    from audio_inference_client import Client
    from audio_inference_client.result import Result

    with Client(plugin_server.url) as client:
        direct = client.transcribe(tone(), filename="tone.wav", model="loudness", window_s=0.5)
    with Client(plugin_server.url, sync_limit_bytes=1024) as client:  # anything bigger goes as a job
        queued = client.transcribe(tone(), filename="tone.wav", model="loudness", window_s=0.5)
    for result, via in ((direct, "predict"), (queued, "job")):
        assert type(result) is Result and result.via == via  # a model the client does not know: the document
        assert result.model == "loudness" and not result.has_midi
        assert len(result.document["levels_db"]) == 6
    assert direct.document == queued.document


def test_the_clients_command_takes_its_parameters_by_name(plugin_server: LocalServer, tmp_path: Path) -> None:
    import json

    from audio_inference_client.cli import main

    audio, out = tmp_path / "tone.wav", tmp_path / "tone.json"
    audio.write_bytes(tone())
    arguments = ["transcribe", str(audio), "--url", plugin_server.url, "--model", "loudness", "--no-progress"]
    assert main([*arguments, "--param", "window_s=0.5", "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["levels_db"]) == 6
    assert main([*arguments, "--param", "window_s"]) == 2  # not NAME=VALUE: refused before any request
    assert main([*arguments, "--param", "window_s=20"]) == 2  # the service's 422 (0.1-10)

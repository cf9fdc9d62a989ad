"""`make serve`'s server over a real socket: both request forms, MIDI, CORS, concurrency, the contract."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mido
import requests
import soundfile as sf

from inference.testing import signals
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract


def piece(seed: int, seconds: float = 6.0) -> bytes:
    return wav_bytes(signals.render(signals.piece(seed, seconds), 44100, seconds, seed=seed), 44100)


def predict(server: LocalServer, audio: bytes, **fields: str) -> requests.Response:
    return requests.post(
        f"{server.url}/predict", files={"file": ("clip.wav", audio, "audio/wav")}, data=fields, timeout=60
    )


def test_health_names_the_model(local_server: LocalServer) -> None:
    response = requests.get(f"{local_server.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["model"]["name"] == "basic-pitch"
    assert_follows_contract(contract(local_server.url), response)


def test_multipart_predict_returns_notes_and_working_download_links(local_server: LocalServer) -> None:
    response = predict(local_server, piece(3), onset_threshold="0.6")
    assert response.status_code == 200, response.text
    assert_follows_contract(contract(local_server.url), response)
    body = response.json()
    assert body["result"]["parameters"]["onset_threshold"] == 0.6 and body["result"]["notes"]
    stored = requests.get(body["downloads"]["json_url"], timeout=10)
    assert stored.status_code == 200 and stored.json() == body["result"]
    midi = requests.get(body["downloads"]["midi_url"], timeout=10)
    assert midi.headers["content-disposition"] == 'attachment; filename="clip.mid"'
    assert len(mido.MidiFile(file=io.BytesIO(midi.content)).tracks) >= 1


def test_raw_audio_body_with_query_parameters_equals_the_multipart_form(local_server: LocalServer) -> None:
    audio = piece(5)
    flac = io.BytesIO()
    data, rate = sf.read(io.BytesIO(audio))
    sf.write(flac, data, rate, format="FLAC")
    raw = requests.post(
        f"{local_server.url}/predict?frame_threshold=0.4",
        data=flac.getvalue(),
        headers={"Content-Type": "audio/flac"},
        timeout=60,
    )
    form = predict(local_server, audio, frame_threshold="0.4")
    assert raw.status_code == form.status_code == 200, raw.text
    assert_follows_contract(contract(local_server.url), raw)
    assert raw.json()["result"]["notes"] == form.json()["result"]["notes"]


def test_accept_midi_saves_a_midi_file(local_server: LocalServer, tmp_path: Path) -> None:
    response = requests.post(
        f"{local_server.url}/predict",
        headers={"Accept": "audio/midi"},
        files={"file": ("song.wav", piece(8), "audio/wav")},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/midi"
    assert response.headers["content-disposition"] == 'attachment; filename="song.mid"'
    (tmp_path / "song.mid").write_bytes(response.content)
    notes = [m for t in mido.MidiFile(tmp_path / "song.mid").tracks for m in t if m.type == "note_on"]
    assert notes
    assert_follows_contract(contract(local_server.url), response)


def test_eight_concurrent_requests_equal_the_sequential_ones(local_server: LocalServer) -> None:
    clips = [piece(seed, 4.0) for seed in range(8)]

    def notes(audio: bytes) -> list[dict[str, Any]]:
        response = predict(local_server, audio)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["result"]["notes"]
        return result

    sequential = [notes(clip) for clip in clips]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(notes, clips))
    assert concurrent == sequential
    assert all(sequential)


def test_cors_preflight_and_answers_allow_the_page(local_server: LocalServer) -> None:
    origin = "http://localhost:8080"
    preflight = requests.options(
        f"{local_server.url}/predict",
        timeout=10,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert set(preflight.headers["access-control-allow-methods"].split(",")) == {"OPTIONS", "POST"}
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
    answer = requests.get(f"{local_server.url}/health", headers={"Origin": origin}, timeout=10)
    assert answer.headers["access-control-allow-origin"] == "*"  # the local server allows every origin
    refused = requests.get(f"{local_server.url}/nowhere", headers={"Origin": origin}, timeout=10)
    assert refused.status_code == 404 and refused.headers["access-control-allow-origin"] == "*"


def test_ctrl_c_stops_the_server_cleanly(model_artifact: Path, tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "serve.log")
    banner = server.output()
    assert f"audio inference API on {server.url}" in banner
    assert f"curl -F file=@song.mp3 {server.url}/predict" in banner
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()

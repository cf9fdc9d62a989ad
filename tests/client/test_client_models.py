"""The client and its command with either model, against `make serve`'s server on a real socket:
silero-vad through POST /predict and through a job (typed speech segments), basic-pitch named
explicitly, each model's parameters refused client-side for the other model (before any request) and
server-side, and what a result does not hold asked for (a clear error, not a KeyError)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
from audio_inference_client import (
    MODEL_PARAMETERS,
    BadInputError,
    Client,
    NotInResultError,
    Result,
    Segment,
    SpeechSegments,
    Transcription,
)
from audio_inference_client.result import result_for
from audio_inference_client.transport import Transport

from tests.client.speech_clips import overlaps, speech_clip, speech_wav
from tests.client.test_client import command, stereo_wav
from tests.support.service import LocalServer


def closed_port_url() -> str:
    """A URL nothing answers on: a call that reached the network would fail as connection_failed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def api_vad(server: LocalServer, audio: bytes, **fields: str) -> dict[str, Any]:
    answer = requests.post(
        f"{server.url}/predict",
        files={"file": ("speech.wav", audio, "audio/wav")},
        data={"model": "silero-vad", **fields},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_silero_vad_through_predict_is_typed_speech(local_server: LocalServer, tmp_path: Path) -> None:
    scene = speech_clip(41)
    audio = scene.wav_bytes()
    with Client(local_server.url) as client:
        result = client.transcribe(audio, filename="speech.wav", model="silero-vad", threshold=0.4, speech_pad_ms=50)
    direct = api_vad(local_server, audio, threshold="0.4", speech_pad_ms="50")

    assert isinstance(result, SpeechSegments) and result.via == "predict" and result.reference
    assert result.model == "silero-vad" and result.document == direct["result"]
    assert "midi_url" not in direct["downloads"] and not result.has_midi
    assert result.parameters == {
        "threshold": 0.4,
        "min_speech_duration_ms": 250.0,
        "min_silence_duration_ms": 100.0,
        "speech_pad_ms": 50.0,
    }
    assert result.segments == [Segment(s["start_s"], s["end_s"]) for s in direct["result"]["segments"]]
    assert len(result.segments) >= len(scene.speech) >= 4
    found = [(segment.start_s, segment.end_s) for segment in result.segments]
    assert all(overlaps(truth, found) for truth in scene.speech), (scene.speech, found)
    assert result.speech_s == pytest.approx(sum(s.duration_s for s in result.segments), abs=1e-4)
    assert result.speech_ratio == pytest.approx(result.speech_s / result.duration_s, abs=1e-4)
    assert result.duration_s == pytest.approx(scene.duration_s, abs=1e-3)
    assert repr(result).startswith(f"<SpeechSegments {len(found)} segments, {result.speech_s:.1f} s of speech in")
    assert f"via predict {result.reference}>" in repr(result)

    with pytest.raises(NotInResultError, match=r"silero-vad result has no notes \(it holds speech segments\)"):
        _ = result.notes
    with pytest.raises(NotInResultError, match="no MIDI file") as refused:
        result.save_midi(tmp_path / "speech.mid")
    assert refused.value.code == "not_in_result" and not (tmp_path / "speech.mid").exists()
    assert json.loads(result.save_json(tmp_path / "speech.json").read_text()) == result.document


def test_silero_vad_through_a_job_sends_the_model_at_the_top(local_server: LocalServer) -> None:
    scene = speech_clip(42)
    audio = scene.wav_bytes()
    with Client(local_server.url, sync_limit_bytes=1024, poll_interval_s=0.2) as client:  # forced to a job
        result = client.transcribe(audio, filename="speech.wav", model="silero-vad", min_silence_duration_ms=300)

    assert isinstance(result, SpeechSegments) and result.via == "job" and len(result.reference) == 32
    status = requests.get(f"{local_server.url}/jobs/{result.reference}", timeout=10).json()
    assert status["model"] == "silero-vad"
    assert status["result"]["segments_count"] == len(result.segments) and "midi_url" not in status["result"]
    assert status["result"]["speech_ratio"] == result.speech_ratio
    assert result.parameters["min_silence_duration_ms"] == 300.0
    direct = api_vad(local_server, audio, min_silence_duration_ms="300")["result"]
    assert result.document["segments"] == direct["segments"] and len(direct["segments"]) >= 4


def test_basic_pitch_named_explicitly_is_a_transcription(local_server: LocalServer) -> None:
    with Client(local_server.url) as client:
        named = client.transcribe(stereo_wav(43, 3.0), filename="clip.wav", model="basic-pitch", onset_threshold=0.6)
        default = client.transcribe(stereo_wav(43, 3.0), filename="clip.wav", onset_threshold=0.6)
    assert isinstance(named, Transcription) and isinstance(default, Transcription)
    assert named.model == default.model == "basic-pitch" and named.has_midi
    assert named.document["notes"] == default.document["notes"] and named.notes
    assert repr(named).startswith(f"<Transcription {len(named.notes)} notes in 3.0 s of audio, via predict")
    with pytest.raises(NotInResultError, match=r"basic-pitch result has no segments.*model=silero-vad"):
        _ = named.segments
    with pytest.raises(NotInResultError, match="no speech_ratio"):
        _ = named.speech_ratio


@pytest.mark.parametrize(
    ("model", "parameters", "message"),
    [
        ("silero-vad", {"onset_threshold": 0.5}, "unknown parameter 'onset_threshold' for model silero-vad"),
        ("silero-vad", {"precision": "fast"}, "(basic-pitch's parameter); allowed: threshold, min_speech"),
        ("basic-pitch", {"threshold": 0.5}, "unknown parameter 'threshold' for model basic-pitch (silero-vad's"),
        ("silero-vad", {"threshold": "high"}, "threshold must be a number, got 'high'"),
        ("silero-vad", {"speech_pad_ms": True}, "speech_pad_ms must be a number, got True"),
        (
            None,
            {"threshold": 0.5, "onset_threshold": 0.5},
            "parameters of different models: threshold (silero-vad), onset_threshold (basic-pitch)",
        ),
        (None, {"tempo": 120.0}, "unknown parameter 'tempo'; allowed: basic-pitch: onset_threshold"),
        ("", {}, "model must be a model's name, got ''"),
    ],
)
def test_a_parameter_the_model_does_not_have_is_refused_before_any_request(
    model: str | None, parameters: dict[str, Any], message: str
) -> None:
    with Client(closed_port_url(), max_retries=0) as client, pytest.raises(BadInputError) as refused:
        client.transcribe(b"RIFF....WAVE", model=model, **parameters)
    assert refused.value.code == "invalid_parameter" and refused.value.status is None  # no answer: no request
    assert message in refused.value.message


def test_the_service_refuses_what_the_client_cannot_know(local_server: LocalServer) -> None:
    """Without a model the service's default (basic-pitch) decides; a model the client does not know is
    passed through unchecked, and the service refuses one it does not serve."""
    audio = stereo_wav(44, 1.0)
    with Client(local_server.url) as client:
        with pytest.raises(BadInputError) as refused:
            client.transcribe(audio, threshold=0.4)
        assert (refused.value.status, refused.value.code) == (422, "invalid_parameter")
        assert "unknown parameter 'threshold' for model basic-pitch" in refused.value.message
        with pytest.raises(BadInputError) as refused:
            client.transcribe(audio, model="speaker-diarization", speakers=2)
        assert (refused.value.status, refused.value.code) == (422, "invalid_parameter")
        assert (
            "model='speaker-diarization' is not served here: allowed basic-pitch, silero-vad" in refused.value.message
        )
        with pytest.raises(BadInputError) as refused:
            client.transcribe(audio, model="silero-vad", threshold=0.999)
        assert (refused.value.status, refused.value.code) == (422, "invalid_parameter")
        assert "threshold=0.999 is invalid: allowed a number from 0.01 to 0.99" in refused.value.message
    answer = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("clip.wav", audio, "audio/wav")},
        data={"model": "silero-vad", "onset_threshold": "0.5"},
        timeout=30,
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_parameter"


def test_a_model_the_client_does_not_know_gives_a_plain_result() -> None:
    document = {
        "schema_version": "1",
        "model": {"name": "speaker-count", "version": "1"},
        "parameters": {"speakers": 2},
        "audio": {"duration_s": 12.5},
        "speakers": 2,
    }
    transport = Transport(api_url="http://127.0.0.1:1", api_key=None, max_retries=0, backoff_s=0.0)
    result = result_for(document, via="job", reference="f" * 32, midi_url=None, transport=transport, request_timeout=1)
    assert type(result) is Result and result.model == "speaker-count" and result.parameters == {"speakers": 2}
    assert repr(result) == f"<Result speaker-count result for 12.5 s of audio, via job {'f' * 32}>"
    with pytest.raises(NotInResultError, match="speaker-count result has no notes"):
        _ = result.notes
    with pytest.raises(NotInResultError, match="no segments"):
        _ = result.segments


def test_the_client_knows_each_models_parameters() -> None:
    assert set(MODEL_PARAMETERS) == {"basic-pitch", "silero-vad"}
    assert MODEL_PARAMETERS["silero-vad"] == {
        "threshold": float,
        "min_speech_duration_ms": float,
        "min_silence_duration_ms": float,
        "speech_pad_ms": float,
    }
    assert not set(MODEL_PARAMETERS["basic-pitch"]) & set(MODEL_PARAMETERS["silero-vad"])


def test_the_command_with_silero_vad(local_server: LocalServer, tmp_path: Path) -> None:
    speech, _ = speech_wav(tmp_path / "speech.wav", 45)
    done = command(
        "transcribe", str(speech), "--model", "silero-vad", "--threshold", "0.45", "--min-speech-duration-ms", "200",
        "--json", str(tmp_path / "speech.json"), url=local_server.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "speech.json").read_text())
    assert document["model"]["name"] == "silero-vad"
    assert document["parameters"]["threshold"] == 0.45 and document["parameters"]["min_speech_duration_ms"] == 200.0
    count, duration = len(document["segments"]), document["audio"]["duration_s"]
    line = (
        f"{count} segments, {document['speech_s']:.1f} s of speech in {duration:.1f} s "
        f"({document['speech_ratio']:.0%}) (via predict, "
    )
    assert line in done.stdout and count >= 4

    done = command("transcribe", str(speech), "--model", "silero-vad", "--json", "-", url=local_server.url)
    assert done.returncode == 0 and json.loads(done.stdout)["segments"] and "segments, " in done.stderr

    # Refused before any request: nothing listens at the URL, so a request would have been exit 3.
    nowhere = closed_port_url()
    done = command("transcribe", str(speech), "--model", "silero-vad", "--midi", str(tmp_path / "s.mid"), url=nowhere)
    assert done.returncode == 2 and "--midi: model silero-vad answers no MIDI" in done.stderr
    done = command("transcribe", str(speech), "--model", "silero-vad", "--onset-threshold", "0.4", url=nowhere)
    assert done.returncode == 2 and "unknown parameter 'onset_threshold' for model silero-vad" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "s.mid").exists()

    helped = command("transcribe", "--help", url=nowhere)
    assert helped.returncode == 0
    for option in ("--model NAME", "--threshold", "--min-speech-duration-ms", "--min-silence-duration-ms"):
        assert option in helped.stdout
    assert "silero-vad options" in helped.stdout and "basic-pitch options" in helped.stdout

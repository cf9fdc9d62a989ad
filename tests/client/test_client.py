"""The client library and its command against `make serve`'s server on a real socket: a short clip
(POST /predict), a file over the request limit (the jobs flow), the service's errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
from audio_inference_client import SYNC_LIMIT_BYTES, BadInputError, Client, Note

from inference.config import load_config
from inference.testing import signals
from inference.transcriber import Transcriber
from tests.support.service import LocalServer


def stereo_wav(seed: int, seconds: float) -> bytes:
    mono = signals.render(signals.piece(seed, seconds), 44100, seconds, seed=seed)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono, mono * 0.8], axis=1), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def command(*args: str, url: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "AUDIO_INFERENCE_URL": url}
    environ.pop("AUDIO_INFERENCE_API_KEY", None)
    if key:
        environ["AUDIO_INFERENCE_API_KEY"] = key
    executable = Path(sys.executable).with_name("audio-inference")
    return subprocess.run([str(executable), *args], capture_output=True, text=True, env=environ, timeout=300)


def test_a_short_clip_goes_to_predict_and_equals_the_api(local_server: LocalServer, tmp_path: Path) -> None:
    audio = stereo_wav(11, 6.0)
    with Client(local_server.url) as client:
        result = client.transcribe(audio, filename="clip.wav", onset_threshold=0.6, include_pitch_bends=True)
    direct = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("clip.wav", audio, "audio/wav")},
        data={"onset_threshold": "0.6", "include_pitch_bends": "true"},
        timeout=60,
    ).json()["result"]

    assert result.via == "predict" and result.reference
    assert result.document["notes"] == direct["notes"] and len(direct["notes"]) > 10
    assert result.parameters["onset_threshold"] == 0.6
    first = direct["notes"][0]
    assert result.notes[0] == Note(
        first["start_s"],
        first["end_s"],
        first["pitch"],
        first["velocity"],
        first["amplitude"],
        tuple(first["pitch_bends"]),
    )
    assert result.save_midi(tmp_path / "clip.mid").read_bytes().startswith(b"MThd")
    assert json.loads(result.save_json(tmp_path / "clip.json").read_text()) == result.document


def test_a_file_over_the_request_limit_goes_through_a_job(local_server: LocalServer, tmp_path: Path) -> None:
    path = tmp_path / "rehearsal.wav"
    path.write_bytes(stereo_wav(12, 30.0))  # 5.3 MB: over what one request carries
    assert path.stat().st_size > SYNC_LIMIT_BYTES
    uploads: list[tuple[int, int]] = []
    statuses: list[str] = []
    with Client(local_server.url, poll_interval_s=0.2) as client:
        result = client.transcribe(
            path, on_upload=lambda sent, total: uploads.append((sent, total)), on_job=lambda s, _: statuses.append(s)
        )

    assert result.via == "job" and len(result.reference) == 32
    assert uploads[-1][0] == uploads[-1][1] > path.stat().st_size  # the whole form went: fields and file
    assert statuses[-1] == "succeeded" and set(statuses) <= {"queued", "running", "succeeded"}
    expected = Transcriber(load_config(environ={})).transcribe_file(path).to_dict()
    assert result.document["notes"] == expected["notes"] and len(expected["notes"]) > 50
    assert result.save_midi(tmp_path / "rehearsal.mid").read_bytes().startswith(b"MThd")


def test_the_command_transcribes_both_ways(local_server: LocalServer, tmp_path: Path) -> None:
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    short.write_bytes(stereo_wav(13, 4.0))
    long.write_bytes(stereo_wav(14, 30.0))

    done = command(
        "transcribe", str(short), "--midi", str(tmp_path / "s.mid"), "--json", str(tmp_path / "s.json"),
        "--onset-threshold", "0.6", "--no-melodia-trick", url=local_server.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "s.json").read_text())
    assert document["parameters"]["onset_threshold"] == 0.6 and document["parameters"]["melodia_trick"] is False
    assert f"{len(document['notes'])} notes in 4.0 s of audio (via predict" in done.stdout
    assert (tmp_path / "s.mid").read_bytes().startswith(b"MThd")

    done = command("transcribe", str(long), "--json", "-", "--progress", url=local_server.url)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert f"{len(document['notes'])} notes in 30.0 s of audio (via job" in done.stderr
    assert "upload: 100%" in done.stderr and "job: succeeded" in done.stderr  # the two progress bars


def test_service_errors_are_typed_and_exit_2(local_server: LocalServer, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all\n" * 20)
    with Client(local_server.url) as client:
        try:
            client.transcribe(text)
        except BadInputError as error:
            assert (error.status, error.code) == (415, "unsupported_audio_format")
            assert error.request_id and error.request_id in str(error)
        else:
            raise AssertionError("a text file was accepted")
        try:
            client.transcribe(stereo_wav(15, 1.0), onset_threshold=1.5)
        except BadInputError as error:
            assert (error.status, error.code) == (422, "invalid_parameter") and "onset_threshold" in error.message
        else:
            raise AssertionError("an out-of-range threshold was accepted")

    done = command("transcribe", str(text), url=local_server.url)
    assert done.returncode == 2
    assert "unsupported_audio_format" in done.stderr and "HTTP 415" in done.stderr and "Traceback" not in done.stderr
    missing = command("transcribe", str(tmp_path / "absent.wav"), url=local_server.url)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_bad_arguments_and_unwritable_outputs_exit_2_before_any_request(tmp_path: Path) -> None:
    """A stranger's run sent the request, then failed to write (`--midi` into a read-only folder); and
    `--timeout -1` was taken. Port 9 answers nothing: a request would exit 3, not 2."""
    audio = tmp_path / "clip.wav"
    audio.write_bytes(stereo_wav(3, 1.0))
    unreachable = "http://127.0.0.1:9"
    for args, said in [
        (("--json", str(tmp_path / "missing" / "x.json")), "--json: cannot write"),
        (("--midi", str(tmp_path)), "--midi: cannot write"),
        (("--timeout", "-1"), "a number of seconds above 0"),
        (("--timeout", "0"), "a number of seconds above 0"),
    ]:
        done = command("transcribe", str(audio), *args, url=unreachable)
        assert done.returncode == 2 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_pipe_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    """`cat x.wav | audio-inference transcribe /dev/stdin` read as an empty file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = command("transcribe", str(fifo), url="http://127.0.0.1:9")
    assert done.returncode == 2 and "is not a regular file (a pipe or a device)" in done.stderr, done.stderr

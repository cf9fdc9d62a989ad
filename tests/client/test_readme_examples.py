"""The client examples of docs/api.md ("The Python client"), run as written against `make serve`'s
server: the command lines and the Python blocks, on a short song.mp3, a concert.mp3 over the request
limit and a meeting.wav of spoken sentences (silero-vad). The README's shorter example is checked to be
part of them."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from audio_inference_client import SYNC_LIMIT_BYTES

from inference.testing import signals
from tests.client.speech_clips import speech_wav
from tests.support.service import REPO, LocalServer


def client_section(page: str = "docs/api.md") -> str:
    text = (REPO / page).read_text()
    return re.split(r"\n#{1,3} ", text.split("## The Python client\n", 1)[1], maxsplit=1)[0]


def test_the_readmes_client_example_is_part_of_the_one_run_here() -> None:
    docs, readme = client_section(), client_section("README.md")
    (docs_shell, docs_python), (readme_shell, readme_python) = (
        re.findall(r"```bash\n(.*?)```\n\n```python\n(.*?)```", section, re.S)[0] for section in (docs, readme)
    )
    docs_lines = {line.split("#", 1)[0].strip() for line in docs_shell.splitlines()}
    assert {line.split("#", 1)[0].strip() for line in readme_shell.splitlines()} <= docs_lines
    assert readme_python == docs_python


def mp3(path: Path, seed: int, seconds: float) -> Path:
    mono = signals.render(signals.piece(seed, seconds), 44100, seconds, seed=seed)
    sf.write(path, np.stack([mono, mono * 0.8], axis=1), 44100, format="MP3", compression_level=0.0)
    return path


def test_the_readmes_client_examples_work_as_written(local_server: LocalServer, tmp_path: Path) -> None:
    section = client_section()
    shell, python = re.findall(r"```bash\n(.*?)```\n\n```python\n(.*?)```", section, re.S)[0]
    mp3(tmp_path / "song.mp3", 31, 8.0)
    assert mp3(tmp_path / "concert.mp3", 32, 180.0).stat().st_size > SYNC_LIMIT_BYTES
    speech_wav(tmp_path / "meeting.wav", 33)
    (tmp_path / "recordings" / "live").mkdir(parents=True)
    mp3(tmp_path / "recordings" / "a.mp3", 34, 4.0)
    mp3(tmp_path / "recordings" / "live" / "b.mp3", 35, 4.0)

    environ = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    commands = [line.split("#", 1)[0].strip() for line in shell.splitlines()]
    ran = 0
    for line in commands:
        if line.startswith("audio-inference"):
            done = subprocess.run(shlex.split(line), cwd=tmp_path, env=environ, capture_output=True, text=True)
            assert done.returncode == 0, f"{line}\n{done.stderr}"
            ran += 1
        elif line.startswith("export "):  # the examples' own values, pointed at this server
            name = line.removeprefix("export ").split("=", 1)[0]
            if name == "AUDIO_INFERENCE_URL":
                environ[name] = local_server.url
        else:
            assert line.startswith("pip install ./src/client") or not line, line
    assert ran == 5
    for name in ("a.mp3", "live/b.mp3"):  # the folder's outputs, named after its files, and its manifest
        assert (tmp_path / "notes" / f"{name}.mid").read_bytes().startswith(b"MThd")
    assert json.loads((tmp_path / "notes" / "manifest.json").read_text())["files"]["live/b.mp3"]["status"] == "done"
    assert (tmp_path / "song.mid").read_bytes().startswith(b"MThd") and (tmp_path / "song.json").exists()
    assert (tmp_path / "concert.mid").read_bytes().startswith(b"MThd")
    meeting = json.loads((tmp_path / "meeting.json").read_text())
    assert meeting["model"]["name"] == "silero-vad" and meeting["parameters"]["threshold"] == 0.4
    assert meeting["segments"]

    (tmp_path / "song.json").unlink()
    script = python.replace("http://127.0.0.1:8080", local_server.url)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    count, pitch, via, reference = done.stdout.split()
    assert int(count) > 5 and 21 <= int(pitch) <= 108 and via == "predict" and reference
    assert (tmp_path / "song.json").exists() and (tmp_path / "song.mid").read_bytes().startswith(b"MThd")

    speech = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    assert 'model="silero-vad"' in speech
    script = speech.replace("http://127.0.0.1:8080", local_server.url)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    segments, first_start, speech_s, ratio = done.stdout.split()
    assert int(segments) >= 4 and 0 <= float(first_start) < float(speech_s) and 0 < float(ratio) < 1

"""`audio-inference transcribe-dir` and `transcribe_dir` against `make serve`'s server: a folder in,
per-file outputs named after the inputs, a manifest, a summary and exit code; a run stopped midway
(Ctrl-C) and run again skips what it finished; a file the service refuses is listed, not retried
forever; both models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from audio_inference_client import Client, batch
from audio_inference_client.batch import MANIFEST, transcribe_dir
from audio_inference_client.errors import BadInputError, ServiceError

from inference.testing import signals
from tests.client.scripted_server import Answer, ScriptedServer
from tests.client.test_client import command
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer


def catalog(folder: Path, count: int) -> list[str]:
    """`count` short clips in two sub-folders, and one file that is not audio."""
    names = []
    for n in range(count):
        name = f"{'live' if n % 2 else 'studio'}/take {n}.wav"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(wav_bytes(signals.render(signals.chords(2, 1.5), 16000, 1.5, seed=n), 16000))
        names.append(name)
    return names


def test_a_run_stopped_midway_resumes_and_skips_the_finished_files(local_server: LocalServer, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    names = catalog(source, 5)
    finished: list[str] = []

    def stop_after_two(relative: str, outcome: str) -> None:
        finished.append(relative)
        if len(finished) == 2:
            raise KeyboardInterrupt  # Ctrl-C part way

    with pytest.raises(KeyboardInterrupt):
        transcribe_dir(lambda: Client(local_server.url), source, out, concurrency=1, on_file=stop_after_two)
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    done = sorted(name for name, entry in manifest.items() if entry["status"] == "done")
    # The two reported, and the one already running when Ctrl-C came (it finished; none started after).
    assert set(finished) <= set(done) and 2 <= len(done) <= 3
    for name in done:
        assert json.loads((out / f"{name}.json").read_text())["notes"], "outputs named after the inputs"
        assert (out / f"{name}.mid").read_bytes()[:4] == b"MThd"

    resumed = command("transcribe-dir", str(source), "--out", str(out), "--concurrency", "2", url=local_server.url)
    assert resumed.returncode == 0, resumed.stderr
    left = 5 - len(done)
    assert f"5 files: {left} done, {len(done)} skipped (done before), 0 failed" in resumed.stdout
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert sorted(manifest) == sorted(names) and {e["status"] for e in manifest.values()} == {"done"}
    for name in names:
        assert (out / f"{name}.json").exists() and (out / f"{name}.mid").exists()
    assert not list(out.rglob("*.part")), "no half-written output"

    again = command("transcribe-dir", str(source), "--out", str(out), url=local_server.url)
    assert again.returncode == 0 and "5 files: 0 done, 5 skipped" in again.stdout


def test_a_refused_file_is_listed_with_the_reason_and_exit_3_and_speech_gives_json_only(
    local_server: LocalServer, tmp_path: Path
) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    catalog(source, 2)
    (source / "notes.wav").write_bytes(b"this is not audio " * 50)
    result = command(
        "transcribe-dir",
        str(source),
        "--out",
        str(out),
        "--model",
        "silero-vad",
        "--threshold",
        "0.4",
        url=local_server.url,
    )
    assert result.returncode == 3, result.stderr
    assert "3 files: 2 done, 0 skipped (done before), 1 failed" in result.stdout
    assert "failed: notes.wav:" in result.stdout
    # not audio: a rerun gets the same answer, so it is not offered as a retry (a stranger was told to rerun)
    assert "1 refused for their content" in result.stdout and "run the same command again" not in result.stdout
    document = json.loads((out / "studio/take 0.wav.json").read_text())
    assert "segments" in document and not list(out.rglob("*.mid")), "speech segments: JSON only"
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert manifest["notes.wav"]["status"] == "failed" and manifest["notes.wav"]["error"]
    bad = command("transcribe-dir", str(tmp_path / "nowhere"), "--out", str(out), url=local_server.url)
    assert bad.returncode == 2 and "is not a folder" in bad.stderr


class _FullKey:
    """A client whose key's job slots are full `busy` times (429 too_many_jobs_in_flight), then a result."""

    def __init__(self, busy: int, calls: list[str]) -> None:
        self.busy, self.calls = busy, calls

    def transcribe(self, audio: Path, **_: object) -> _Result:
        self.calls.append(audio.name)
        if len([c for c in self.calls if c == audio.name]) <= self.busy:
            raise ServiceError(
                "consumer web-app's limit of 10 jobs in flight is reached", code="too_many_jobs_in_flight", status=429
            )
        return _Result()

    def close(self) -> None:
        pass


class _Result:
    def save_json(self, path: str) -> None:
        Path(path).write_text("{}")

    def save_midi(self, path: str) -> None:
        Path(path).write_bytes(b"MThd")


def test_a_key_at_its_job_limit_is_waited_for_without_spending_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Abandoned jobs hold a key's slots for their 15-minute upload window: a batch waits its turn rather
    than failing its files after a few retries (a stranger's run ended exit 3 while the slots were held)."""
    monkeypatch.setattr(batch, "SLOT_POLL_S", 0.01)
    folder = tmp_path / "in"
    catalog(folder, 2)
    calls: list[str] = []

    def full_key(busy: int) -> Callable[[], Client]:
        return lambda: cast(Client, _FullKey(busy, calls))

    summary = transcribe_dir(full_key(5), folder, tmp_path / "out", attempts=1, concurrency=1)
    assert (summary.done, summary.failed) == (2, {}) and len(calls) == 12  # 5 waits and the run, per file
    calls.clear()
    waited_out = transcribe_dir(full_key(10**6), folder, tmp_path / "o2", attempts=1, concurrency=1, slot_wait_s=0.05)
    assert waited_out.done == 0 and all("too_many_jobs_in_flight" in why for why in waited_out.failed.values())


def test_an_out_that_is_a_file_or_a_damaged_manifest_is_bad_input_naming_it(tmp_path: Path) -> None:
    """Exit 2 with what to do, not an unexpected error (exit 1) with a traceback's last line."""
    folder = tmp_path / "in"
    catalog(folder, 1)
    taken = tmp_path / "taken.wav"
    taken.write_bytes(b"RIFF")
    with pytest.raises(BadInputError, match=r"taken\.wav is a file, not a folder"):
        transcribe_dir(lambda: cast(Client, _FullKey(0, [])), folder, taken)
    for damaged in ("{not json", "[]", '{"files": ["a"]}'):
        out = tmp_path / f"out{len(damaged)}"
        out.mkdir()
        (out / MANIFEST).write_text(damaged)
        with pytest.raises(BadInputError, match=r"manifest\.json is not a manifest this command wrote: move it away"):
            transcribe_dir(lambda: cast(Client, _FullKey(0, [])), folder, out)


class _Vanishing(_FullKey):
    """A client for which `gone` is deleted before it is read, as a stranger's file was mid-run."""

    def __init__(self, gone: str, calls: list[str]) -> None:
        super().__init__(0, calls)
        self.gone = gone

    def transcribe(self, audio: Path, **kwargs: object) -> _Result:
        if audio.name == self.gone:
            audio.unlink()
            raise BadInputError(f"cannot read {audio}: No such file or directory", code="unreadable_file")
        return super().transcribe(audio, **kwargs)


def test_a_file_deleted_during_the_run_is_failed_and_the_others_finish(tmp_path: Path) -> None:
    """It aborted the whole batch with exit 1 (the manifest stat the missing file)."""
    folder = tmp_path / "in"
    names = catalog(folder, 4)
    gone = Path(names[1]).name
    summary = transcribe_dir(lambda: cast(Client, _Vanishing(gone, [])), folder, tmp_path / "out", concurrency=1)
    assert (summary.done, list(summary.failed)) == (3, [names[1]])
    entry = json.loads((tmp_path / "out" / MANIFEST).read_text())["files"][names[1]]
    assert entry["status"] == "failed" and "size" not in entry


def test_an_out_folder_that_cannot_be_written_is_bad_input_before_any_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    calls: list[str] = []
    catalog(folder, 2)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where --out's parent should be")
    with pytest.raises(BadInputError, match=r"cannot write to --out .*blocker/out"):
        transcribe_dir(lambda: cast(Client, _FullKey(0, calls)), folder, blocker / "out")
    assert calls == [], "no file was sent"


def test_ctrl_c_says_at_once_that_it_waits_and_a_second_one_leaves_the_files_in_flight(tmp_path: Path) -> None:
    """A stranger's Ctrl-C waited 57-80 s for two 10-minute files without a word, and a second Ctrl-C
    did nothing: now the first says what it waits for, and the second ends the command (exit 130)."""
    source = tmp_path / "in"
    catalog(source, 2)
    with ScriptedServer().running() as server:
        server.script["/predict"] = [Answer(200, {}, delay_s=60.0)] * 2  # a file that takes its time
        errors = tmp_path / "stderr.txt"
        executable = Path(sys.executable).with_name("audio-inference")
        environ = {**os.environ, "AUDIO_INFERENCE_URL": server.url}
        with errors.open("w") as err:
            process = subprocess.Popen(
                [str(executable), "transcribe-dir", str(source), "--out", str(tmp_path / "out"), "--concurrency", "1"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=environ,
            )
            try:
                wait_until(lambda: bool(server.requests_to("/predict")), 60)
                process.send_signal(signal.SIGINT)
                wait_until(lambda: "stopping: no new file starts" in errors.read_text(), 60)
                process.send_signal(signal.SIGINT)
                code = process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
    said = errors.read_text()
    assert code == 130, said
    assert "left the files in flight unrecorded (their jobs run on)" in said and "Traceback" not in said, said


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)

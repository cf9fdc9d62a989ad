"""The service's share of the benchmark (run by measurement/bench.py): HTTP + parsing + S3 vs the runtime alone.

- a clip through POST /predict on `make serve`'s server vs `Transcriber.transcribe` in one process, on
  the same file, both warm, median of several calls;
- `import service.handler` (model on disk) in a fresh process: our share of a Lambda cold start;
- the server's resident memory when idle with the model loaded;
- the 10-minute and the 60-minute file, as MP3, through the whole local job flow (POST /jobs, presigned
  upload, S3 -> SQS -> worker, polling, result download) vs `python -m inference transcribe` on the same
  file: time, and whether the notes are the same.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from emulation.local_server import free_port, local_settings

REPO = Path(__file__).resolve().parents[1]
CALLS = 9

_IN_PROCESS = """
import json, statistics, sys, time
from inference.config import load_config
from inference.transcriber import Transcriber
transcriber = Transcriber(load_config(environ={}))
data = open(sys.argv[1], "rb").read()
transcriber.transcribe(data)
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    transcriber.transcribe(data)
    times.append(time.perf_counter() - started)
print(json.dumps({"seconds": statistics.median(times)}))
"""

_IMPORT = """
import json, time
started = time.perf_counter()
import service.handler
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def in_process_seconds(path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(path), str(CALLS)], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    seconds: float = json.loads(out.splitlines()[-1])["seconds"]
    return seconds


def handler_import_seconds() -> float:
    """`import service.handler` with its settings in the environment and the model already on disk."""
    environ = {**os.environ, **local_settings().to_environment(), "AWS_DEFAULT_REGION": "us-east-1"}
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT], capture_output=True, text=True, check=True, cwd=REPO, env=environ
        ).stdout
        runs.append(json.loads(out.splitlines()[-1])["seconds"])
    return statistics.median(runs)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def through_the_server(path: Path) -> tuple[float, float]:
    """(median seconds of POST /predict for `path`, idle RSS in MB before any request)."""
    with local_server() as (url, server):
        time.sleep(1.0)
        idle = rss_mb(server.pid)
        data = path.read_bytes()

        def post() -> float:
            started = time.perf_counter()
            response = requests.post(f"{url}/predict", files={"file": (path.name, data, "audio/flac")}, timeout=120)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            return elapsed

        post()  # warm, as the in-process figure is
        return statistics.median(post() for _ in range(CALLS)), idle


def as_flac(clip: Path) -> Path:
    """The clip as FLAC: a 30 s 44.1 kHz stereo WAV (5.3 MB) is over the synchronous body limit."""
    import soundfile as sf

    target = clip.with_suffix(".flac")
    if not target.exists():
        data, rate = sf.read(clip, dtype="int16")
        sf.write(target, data, rate, format="FLAC")
    return target


def report(wav_clip: Path) -> None:
    clip = as_flac(wav_clip)
    http, idle = through_the_server(clip)
    direct = in_process_seconds(clip)
    cold = handler_import_seconds()
    print(f"\nservice ({clip.name}, median of {CALLS} warm calls each)")
    print(f"  POST /predict on the local server   {http:6.2f} s")
    print(f"  Transcriber.transcribe in process   {direct:6.2f} s")
    print(f"  import service.handler (model on disk) {cold:5.2f} s")
    print(f"  local server idle RSS, model loaded {idle:6.0f} MB")
    print(
        f"ratios (targets: HTTP/in-process <= 1.15x, import + init < 1 s): "
        f"HTTP/in-process {http / direct:4.2f}x   import + init {cold:4.2f} s"
    )


def as_mp3(wav: Path) -> Path:
    """The file as MP3, as long recordings usually arrive (and small enough to move around)."""
    import soundfile as sf

    target = wav.with_suffix(".mp3")
    if not target.exists():
        partial = target.with_suffix(".partial.mp3")
        with (
            sf.SoundFile(wav) as source,
            sf.SoundFile(partial, "w", samplerate=source.samplerate, channels=source.channels, format="MP3") as out,
        ):
            for block in source.blocks(blocksize=1 << 18, dtype="float32"):  # an hour would not fit whole
                out.write(block)
        partial.rename(target)
    return target


def cli_seconds(path: Path, repeats: int) -> float:
    """`python -m inference transcribe` on the file, wall clock, fresh process (median of `repeats`), with
    the jobs' duration limit."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                *("-m", "inference", "transcribe", str(path)),
                *("--max-duration", str(local_settings().jobs.max_duration_s)),
                *("--json", str(path.with_suffix(".cli.json"))),
            ],
            check=True,
            capture_output=True,
            cwd=REPO,
        )
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def job_flow_seconds(path: Path, repeats: int) -> tuple[float, list[dict]]:
    """From POST /jobs to the result JSON downloaded, through `make serve`'s server (median of `repeats`);
    the notes of the last run."""
    data = path.read_bytes()
    with local_server() as (url, _):
        runs: list[float] = []
        notes: list[dict] = []
        for _ in range(repeats):
            started = time.perf_counter()
            created = requests.post(
                f"{url}/jobs",
                json={"filename": path.name, "content_type": "audio/mpeg", "size_bytes": len(data)},
                timeout=30,
            ).json()
            form = created["upload"]
            requests.post(
                form["url"], data=form["fields"], files={"file": (path.name, data, "audio/mpeg")}, timeout=300
            ).raise_for_status()
            while (job := requests.get(created["status_url"], timeout=30).json())["status"] not in (
                "succeeded",
                "failed",
            ):
                time.sleep(0.05)
            if job["status"] != "succeeded":
                raise SystemExit(f"the job failed: {job}")
            notes = requests.get(job["result"]["json_url"], timeout=60).json()["notes"]
            runs.append(time.perf_counter() - started)
        return statistics.median(runs), notes


@contextmanager
def local_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`make serve`'s server in its own process, once it answers /health: (its URL, the process)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "emulation.local_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/health", timeout=2).raise_for_status()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the local server did not start") from None
                time.sleep(0.2)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def report_jobs(long_wav: Path, repeats: int = 3) -> None:
    """The jobs flow against the CLI on the same MP3: time, and the notes compared one by one."""
    path = as_mp3(long_wav)
    flow, notes = job_flow_seconds(path, repeats)
    cli = cli_seconds(path, repeats)
    cli_notes = json.loads(path.with_suffix(".cli.json").read_text())["notes"]
    print(f"\njobs ({path.name}, {path.stat().st_size / 1e6:.1f} MB, median of {repeats} each)")
    print(f"  POST /jobs -> upload -> S3 -> SQS -> worker -> result downloaded   {flow:6.2f} s   {len(notes)} notes")
    print(f"  python -m inference transcribe (fresh process)                    {cli:6.2f} s   {len(cli_notes)} notes")
    print(
        f"ratio (target <= 1.2x): job flow / CLI {flow / cli:4.2f}x; "
        f"notes equal to the CLI's: {'yes' if notes == cli_notes else 'NO'}"
    )

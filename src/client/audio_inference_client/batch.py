"""A folder of recordings through the API: bounded concurrency, retries, per-file outputs and a manifest
that makes a re-run resume.

    from audio_inference_client import Client
    from audio_inference_client.batch import transcribe_dir

    summary = transcribe_dir(lambda: Client(url, api_key=key), "recordings/", "notes/", concurrency=4)

Every audio file under `source` (by extension, recursively) gives `<out>/<its relative path>.json`, and
for a model with MIDI `<...>.mid`, next to its inputs' names. `<out>/manifest.json` records each
file's outcome, its size and modification time, written after every file (atomically): a re-run
skips the files it lists done (unchanged, outputs present) and tries the failed and the missing ones
again, so a crash loses at most the files in flight (Ctrl-C starts no new file and lets those
finish). Each file's call already retries 429, 502, 503 and 504 with backoff and Retry-After (the
client's transport, urllib3's Retry); a file that still fails on the service's side (throttled
through every retry, a 5xx) is tried again `attempts` times with exponential backoff. A key at its
limit of jobs in flight (429 `too_many_jobs_in_flight`) is not a failure but a queue: the file waits
for a slot, up to `slot_wait_s` (an abandoned job holds its slot for its 15-minute upload window, and
nothing cancels it), without spending its attempts. Bad input (a file the service refuses) is not retried.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audio_inference_client.client import MODELS_WITH_MIDI, Client
from audio_inference_client.errors import AudioInferenceError, BadInputError, printable

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".webm", ".mka", ".mkv")
"""What a folder's audio files are called (the formats the service decodes)."""
MANIFEST = "manifest.json"


@dataclass
class BatchSummary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    """Done by an earlier run (listed in the manifest, unchanged, outputs present)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Relative path -> the last error."""
    refused: set[str] = field(default_factory=set)
    """Those of `failed` the service refused for what they are (not audio, empty, too long): running the
    command again sends them again and gets the same answer."""

    def line(self) -> str:
        return f"{self.total} files: {self.done} done, {self.skipped} skipped (done before), {len(self.failed)} failed"


def audio_files(source: Path) -> list[Path]:
    """The audio files under `source`, sorted, by extension."""
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


class Manifest:
    """`<out>/manifest.json`: each file's outcome; rewritten whole, atomically, after each file."""

    def __init__(self, out: Path) -> None:
        self.path = out / MANIFEST
        self._lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                files = json.loads(self.path.read_bytes()).get("files", {})
                self.files = {str(name): dict(entry) for name, entry in files.items()}
            except (ValueError, AttributeError, TypeError):
                raise BadInputError(
                    f"{printable(str(self.path), 300)} is not a manifest this command wrote: move it away (the "
                    "run then starts over) or point --out at another folder",
                    code="bad_input",
                ) from None

    def finished(self, relative: str, audio: Path, out: Path) -> bool:
        entry = self.files.get(relative)
        if not entry or entry.get("status") != "done":
            return False
        stat = audio.stat()
        same = entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns
        return same and all((out / name).exists() for name in entry.get("outputs", []))

    def record(self, relative: str, audio: Path, **entry: Any) -> None:
        """The file's outcome, with its size and time as they are now (none for a file gone meanwhile:
        deleted while the run went on, it is recorded failed, and the others go on)."""
        try:
            stat = audio.stat()
            seen: dict[str, Any] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        except OSError:
            seen = {}
        with self._lock:
            self.files[relative] = {**seen, **entry}
            temporary = self.path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps({"version": 1, "files": self.files}, indent=1, sort_keys=True))
            os.replace(temporary, self.path)


SLOT_BUSY = "too_many_jobs_in_flight"
"""The 429 that means "your key's jobs fill its slots": wait for one, do not count it a failure."""
SLOT_WAIT_S = 3600.0
"""How long a file waits for a slot at most (an abandoned job holds one for its 900 s upload window)."""
SLOT_POLL_S = 30.0
"""How often a waiting file asks again (the service's Retry-After for this 429)."""
INTERRUPTED = "interrupted before it started"


class LeftInFlight(KeyboardInterrupt):
    """A second Ctrl-C while the files in flight were being waited for: they were left running, and their
    threads still hold the process (the caller ends it without joining them)."""


def transcribe_dir(
    client_factory: Callable[[], Client],
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str | None = None,
    parameters: dict[str, float | bool | str] | None = None,
    concurrency: int = 4,
    attempts: int = 3,
    backoff_s: float = 2.0,
    slot_wait_s: float = SLOT_WAIT_S,
    on_file: Callable[[str, str], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> BatchSummary:
    """Run `model` on every audio file under `source`, at most `concurrency` at once (each thread with its
    own client from `client_factory`); `on_file(relative path, "done" | "skipped" | "failed")` after each;
    `on_stop()` as soon as Ctrl-C stops the run, before the files in flight are waited for."""
    if concurrency < 1 or attempts < 1:
        raise BadInputError(f"concurrency={concurrency} and attempts={attempts}: allowed at least 1 each")
    source_dir, out_dir = Path(source), Path(out)
    if not source_dir.is_dir():
        raise BadInputError(f"{printable(str(source_dir), 300)} is not a folder", code="bad_input")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--out {printable(str(out_dir), 300)} is a file, not a folder", code="bad_input")
    try:  # an output folder that cannot be written is said before any file is sent
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".{MANIFEST}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as unwritable:
        raise BadInputError(
            f"cannot write to --out {printable(str(out_dir), 300)}: {unwritable.strerror or unwritable}",
            code="bad_input",
        ) from None
    manifest = Manifest(out_dir)
    files = audio_files(source_dir)
    summary = BatchSummary(total=len(files))
    to_do: list[tuple[str, Path]] = []
    for audio in files:
        relative = audio.relative_to(source_dir).as_posix()
        if manifest.finished(relative, audio, out_dir):
            summary.skipped += 1
            if on_file:
                on_file(relative, "skipped")
        else:
            to_do.append((relative, audio))
    local = threading.local()
    clients: list[Client] = []

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = client_factory()
            clients.append(local.client)
        return local.client  # type: ignore[no-any-return]

    stopping = threading.Event()  # set on Ctrl-C: a file still waiting for a slot gives up its turn

    refused_files: set[str] = set()

    def one(relative: str, audio: Path) -> tuple[str, str | None]:
        error: str | None = None
        attempt = 0
        slot_deadline = time.monotonic() + slot_wait_s
        while attempt < attempts:
            try:
                outputs = _transcribe_one(client(), audio, out_dir, relative, model, parameters or {})
                manifest.record(relative, audio, status="done", outputs=outputs)
                return relative, None
            except BadInputError as refused:  # the service said what is wrong with this file: no retry
                error = str(refused)
                refused_files.add(relative)
                break
            except (AudioInferenceError, OSError) as failed:  # the service's side, or an output not written
                error = str(failed)
                left = slot_deadline - time.monotonic()
                if getattr(failed, "code", None) == SLOT_BUSY and left > 0:  # queued behind the key's own jobs
                    if stopping.wait(min(SLOT_POLL_S, left)):
                        return relative, INTERRUPTED
                    continue
                attempt += 1
                if attempt < attempts and stopping.wait(backoff_s * 2 ** (attempt - 1)):
                    return relative, INTERRUPTED
        manifest.record(relative, audio, status="failed", error=printable(error or "", 500))
        return relative, error

    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        for future in as_completed([pool.submit(one, relative, audio) for relative, audio in to_do]):
            relative, error = future.result()
            if error is None:
                summary.done += 1
            else:
                summary.failed[relative] = error
                if relative in refused_files:
                    summary.refused.add(relative)
            if on_file:
                on_file(relative, "done" if error is None else "failed")
    except BaseException:  # Ctrl-C (or a callback's error): no new file starts, the ones in flight end and
        stopping.set()  # are recorded; one waiting for a slot or a retry stops waiting, unrecorded
        if on_stop:
            on_stop()
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:  # a second Ctrl-C: the files in flight are left to run on, unrecorded
            raise LeftInFlight() from None
        raise
    pool.shutdown(wait=True)
    for made in clients:
        made.close()
    return summary


def _transcribe_one(
    client: Client, audio: Path, out: Path, relative: str, model: str | None, parameters: dict[str, Any]
) -> list[str]:
    """The file's outputs, named after it: `<relative>.json` (and `.mid`), written whole or not at all."""
    result = client.transcribe(audio, model=model, **parameters)
    outputs = [f"{relative}.json"]
    target = out / outputs[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(target) as temporary:
        result.save_json(temporary)
    if (model or "basic-pitch") in MODELS_WITH_MIDI:
        outputs.append(f"{relative}.mid")
        with _atomic(out / outputs[1]) as temporary:
            result.save_midi(temporary)
    return outputs


class _atomic:
    """A temporary path beside `target`, renamed onto it when the block ends without an error."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temporary = target.with_name(f".{target.name}.part")

    def __enter__(self) -> str:
        return str(self.temporary)

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            os.replace(self.temporary, self.target)
        else:
            self.temporary.unlink(missing_ok=True)

"""`audio-inference transcribe FILE [--model NAME]`: the client as a command, for people and for scripts.

Exit codes: 0 done; 1 an unexpected error in this command; 2 bad input (arguments, an unreadable file,
a request or audio the service refused, an output file it cannot write); 3 the service failed (5xx,
throttled through every retry, unreachable, a job that failed on its side); 4 timed out (--timeout
bounds the whole command: retries, Retry-After waits, the upload, the job and the downloads; in
transcribe-dir it bounds each file, and a file over it is a failed file, exit 3); 5 the
service answered off the API's contract (ProtocolError: not JSON, a field missing, a URL the client will
not use, an answer over its size cap). Every error is one line on stderr, what the server said in it
made printable. Progress bars (upload, then the job) go to stderr when it is a terminal, or
with --progress. The API key is read from --api-key or $AUDIO_INFERENCE_API_KEY and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from audio_inference_client import batch
from audio_inference_client.client import (
    BASIC_PITCH,
    MODEL_PARAMETERS,
    MODELS_WITH_MIDI,
    PRECISIONS,
    SILERO_VAD,
    Client,
)
from audio_inference_client.errors import (
    AudioInferenceError,
    BadInputError,
    ProtocolError,
    TranscriptionTimeout,
    printable,
)

URL_VARIABLE = "AUDIO_INFERENCE_URL"
KEY_VARIABLE = "AUDIO_INFERENCE_API_KEY"
LOCAL_URL = "http://127.0.0.1:8080"
EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_SERVICE, EXIT_TIMEOUT, EXIT_PROTOCOL = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
"""transcribe-dir stopped by Ctrl-C (128 + SIGINT, as shells report it)."""
EXIT_CODES = (
    "exit codes: 0 ok, 2 bad input, 3 service error, 4 timed out (--timeout bounds the whole command), "
    "5 the service answered off the API's contract (a ProtocolError), 1 an unexpected error in this command"
)
DIR_EXIT_CODES = (
    "exit codes: 0 every file done, 3 some failed (listed; a file over its --timeout is one of them), "
    "2 bad arguments, 130 stopped by Ctrl-C, 1 an unexpected error in this command"
)


FORMATS_HELP = "WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)"
"""The formats the service decodes (the client imports nothing of the server: tests/unit/test_formats.py keeps
this equal to inference.formats.ACCEPTED_DESCRIPTION)."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="audio-inference", description="Audio Inference API client.")
    commands = root.add_subparsers(dest="command", required=True)
    transcribe = commands.add_parser(
        "transcribe",
        help="run a model on an audio file: notes (JSON) and MIDI, or speech segments (JSON)",
        description=(
            "Short files go to POST /predict, longer ones through a job; the result is the same. "
            f"--model {BASIC_PITCH} (the service's default) answers notes and MIDI; --model {SILERO_VAD} "
            "answers the segments where someone speaks. Each model takes only its own options."
        ),
        epilog=EXIT_CODES,
    )
    transcribe.add_argument(
        "file", help="WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)"
    )
    transcribe.add_argument("--json", metavar="OUT", help="write the result JSON here ('-' = stdout)")
    transcribe.add_argument("--midi", metavar="OUT", help=f"write the MIDI file here ({BASIC_PITCH} only)")
    _model_options(transcribe)
    directory = commands.add_parser(
        "transcribe-dir",
        help="run a model on every audio file in a folder: per-file outputs, a manifest, resumable",
        description=(
            "Every audio file under DIR (recursively) gives OUT/<its path>.json, and with basic-pitch "
            "<its path>.mid. OUT/manifest.json records each file's outcome: run the same command again to "
            "resume (files done are skipped, failed ones tried again). At most --concurrency files at once; "
            "429 and 5xx are retried with backoff, honouring Retry-After."
        ),
        epilog=DIR_EXIT_CODES,
    )
    directory.add_argument("dir", help="the folder of recordings")
    directory.add_argument("--out", required=True, metavar="DIR", help="where the outputs and manifest.json go")
    directory.add_argument("--concurrency", type=int, default=4, help="files at once (default 4)")
    directory.add_argument(
        "--attempts", type=int, default=3, help="tries per file when the service fails it (default 3)"
    )
    _model_options(directory)
    return root


def _model_options(command: argparse.ArgumentParser) -> None:
    """The service, the model and its options, --timeout and --progress: both commands take them."""
    command.add_argument("--url", help=f"the API's base URL (default: ${URL_VARIABLE}, else {LOCAL_URL})")
    command.add_argument("--api-key", help=f"the API key (default: ${KEY_VARIABLE})")
    command.add_argument(
        "--model",
        metavar="NAME",
        help=f"the model: {', '.join(MODEL_PARAMETERS)} or another the service lists in GET /health "
        "(default: the service's, basic-pitch unless the deployment says otherwise)",
    )
    notes = command.add_argument_group(f"{BASIC_PITCH} options")
    notes.add_argument("--onset-threshold", type=float, metavar="0.05-0.95")
    notes.add_argument("--frame-threshold", type=float, metavar="0.05-0.95")
    notes.add_argument("--minimum-note-length-ms", type=float, metavar="MS")
    notes.add_argument("--minimum-frequency", type=float, metavar="HZ", dest="minimum_frequency_hz")
    notes.add_argument("--maximum-frequency", type=float, metavar="HZ", dest="maximum_frequency_hz")
    notes.add_argument("--melodia-trick", action=argparse.BooleanOptionalAction, default=None)
    notes.add_argument("--pitch-bends", action=argparse.BooleanOptionalAction, default=None, dest="include_pitch_bends")
    notes.add_argument("--multiple-pitch-bends", action=argparse.BooleanOptionalAction, default=None)
    notes.add_argument("--midi-tempo", type=float, metavar="BPM")
    notes.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="exact (the service's default: f32) or fast (reduced precision where the service's CPU has it)",
    )
    speech = command.add_argument_group(f"{SILERO_VAD} options")
    speech.add_argument(
        "--threshold", type=float, metavar="0.01-0.99", help="speech probability that starts a segment (0.5)"
    )
    speech.add_argument("--min-speech-duration-ms", type=float, metavar="MS", help="shorter segments are dropped (250)")
    speech.add_argument(
        "--min-silence-duration-ms", type=float, metavar="MS", help="shorter silence does not end a segment (100)"
    )
    speech.add_argument("--speech-pad-ms", type=float, metavar="MS", help="widen each segment by this (30)")
    command.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any model's parameter by name, e.g. for a model this command has no options for (repeatable)",
    )
    command.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=3600.0,
        help="seconds for the whole command (transcribe-dir: for each file): retries, waits, upload, job and downloads "
        "(default: 3600)",
    )
    command.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars (default: on a terminal)"
    )


def _positive_seconds(text: str) -> float:
    """--timeout: a number of seconds above 0 (argparse turns the ValueError into exit 2 and one line)."""
    seconds = float(text)
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a number of seconds above 0")
    return seconds


class Progress:
    """Two tqdm bars on stderr: bytes uploaded, then the job's status while it is polled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._upload: tqdm[Any] | None = None
        self._job: tqdm[Any] | None = None

    def upload(self, sent: int, total: int) -> None:
        if not self.enabled:
            return
        if self._upload is None or self._upload.total != total or sent < self._upload.n:  # a retry restarts it
            self.close()
            self._upload = tqdm(total=total, desc="upload", unit="B", unit_scale=True, file=sys.stderr, leave=True)
        self._upload.update(sent - self._upload.n)

    def job(self, status: str, elapsed_s: float) -> None:
        if not self.enabled:
            return
        if self._job is None:
            if self._upload is not None:  # the upload is done: its bar stays, finished, above the job's
                self._upload.close()
            self._job = tqdm(bar_format="{desc} [{elapsed}]", file=sys.stderr, leave=True)
        self._job.set_description_str(f"job: {printable(status, 40)}")

    def close(self) -> None:
        for bar in (self._upload, self._job):
            if bar is not None:
                bar.close()
        self._upload = self._job = None


def main(argv: list[str] | None = None) -> int:
    """The command; whatever happens, one line on stderr and an exit code, never a traceback."""
    args = parser().parse_args(argv)
    progress = Progress(args.progress if args.progress is not None else sys.stderr.isatty())
    try:
        if args.command == "transcribe-dir":
            return _transcribe_dir(args)
        return _transcribe(args, progress)
    except Exception as error:  # a bug here: still one line, still an exit code
        progress.close()
        _say(f"unexpected error: {type(error).__name__}: {error}")
        return EXIT_UNEXPECTED


def _service(args: argparse.Namespace) -> tuple[str, str | None]:
    """The URL and the API key: the flags, else the environment (the URL then the local server's)."""
    url = args.url or os.environ.get(URL_VARIABLE) or LOCAL_URL
    return url, args.api_key or os.environ.get(KEY_VARIABLE) or None


def _transcribe(args: argparse.Namespace, progress: Progress) -> int:
    url, api_key = _service(args)
    try:
        parameters = _parameters(args)
    except ValueError as error:
        _say(f"--param: {error}")
        return EXIT_BAD_INPUT
    if args.midi and args.model in MODEL_PARAMETERS and args.model not in MODELS_WITH_MIDI:
        _say(
            f"--midi: model {args.model} answers no MIDI (only {', '.join(sorted(MODELS_WITH_MIDI))} "
            "does); use --json for its result"
        )
        return EXIT_BAD_INPUT
    for flag, output in (("--json", args.json), ("--midi", args.midi)):
        problem = _unwritable(output) if output and output != "-" else None
        if problem:  # said before the request, not after the work
            _say(f"{flag}: cannot write {output}: {problem}")
            return EXIT_BAD_INPUT
    started = time.monotonic()
    try:
        with Client(url, api_key=api_key, timeout=args.timeout) as client:
            result = client.transcribe(
                args.file, model=args.model, on_upload=progress.upload, on_job=progress.job, **parameters
            )
            progress.close()
            if args.midi:  # within what is left of --timeout
                left = args.timeout - (time.monotonic() - started)
                if left <= 0:
                    raise TranscriptionTimeout(f"no time left of --timeout {args.timeout:g} s for the MIDI download")
                result.save_midi(args.midi, timeout=left)
            if args.json == "-":
                json.dump(result.document, sys.stdout, indent=2)
                sys.stdout.write("\n")
            elif args.json:
                result.save_json(args.json)
    except AudioInferenceError as error:
        progress.close()
        _say(str(error))
        if isinstance(error, TranscriptionTimeout):
            return EXIT_TIMEOUT
        if isinstance(error, ProtocolError):
            return EXIT_PROTOCOL
        return EXIT_BAD_INPUT if isinstance(error, BadInputError) else EXIT_SERVICE
    except KeyboardInterrupt:
        progress.close()
        _say("interrupted: nothing written; a job the service already started runs on there until it ends")
        return EXIT_INTERRUPTED
    except OSError as error:  # writing an output file
        progress.close()
        if error.filename is not None:
            _say(f"cannot write {error.filename}: {error.strerror or error}")
        else:
            _say(f"cannot write the output: {error.strerror or error}")
        return EXIT_BAD_INPUT
    summary = printable(f"{result.summary()} (via {result.via}, {result.reference})", 2000)
    print(summary, file=sys.stderr if args.json == "-" else sys.stdout)
    return EXIT_OK


def _unwritable(output: str) -> str | None:
    """Why `output` cannot be written (its folder missing or read-only, or it is a folder), or None."""
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "it is a folder"
    if not folder.is_dir():
        return f"no folder {folder}"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied or a read-only file system"
    return None


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The model's options given as flags, then as --param NAME=VALUE (ValueError: a bad pair)."""
    names = {name for kinds in MODEL_PARAMETERS.values() for name in kinds}
    parameters = {name: getattr(args, name) for name in sorted(names) if getattr(args, name, None) is not None}
    parameters.update(_named_parameters(args.param, MODEL_PARAMETERS.get(args.model or BASIC_PITCH, {})))
    return parameters


def _transcribe_dir(args: argparse.Namespace) -> int:
    """A folder, resumable: a bar over its files, then the summary (counts and the failed files)."""
    url, api_key = _service(args)
    try:
        parameters = _parameters(args)
    except ValueError as error:
        _say(f"--param: {error}")
        return EXIT_BAD_INPUT
    shown = args.progress if args.progress is not None else sys.stderr.isatty()
    files = batch.audio_files(Path(args.dir)) if Path(args.dir).is_dir() else []
    bar = tqdm(total=len(files), desc="files", unit="file", file=sys.stderr, disable=not shown)

    def on_file(relative: str, outcome: str) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{outcome}: {printable(relative, 60)}")

    try:
        Client(url, api_key=api_key)  # the URL and key checked once, before any file
        summary = batch.transcribe_dir(
            lambda: Client(url, api_key=api_key, timeout=args.timeout),
            args.dir,
            args.out,
            model=args.model,
            parameters=parameters,
            concurrency=args.concurrency,
            attempts=args.attempts,
            on_file=on_file,
            on_stop=lambda: _say(
                "stopping: no new file starts; waiting for those in flight (Ctrl-C again to leave them)"
            ),
        )
    except BadInputError as error:
        bar.close()
        _say(str(error))
        return EXIT_BAD_INPUT
    except batch.LeftInFlight:
        bar.close()
        _say("left the files in flight unrecorded (their jobs run on); run the same command to do them again")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)  # their threads would hold a normal exit until they end
    except KeyboardInterrupt:  # the files in flight finished and are in the manifest
        bar.close()
        _say(f"interrupted: what finished is in {Path(args.out) / batch.MANIFEST}; run the same command to resume")
        return EXIT_INTERRUPTED
    bar.close()
    print(summary.line())
    for relative, reason in sorted(summary.failed.items()):
        print(f"failed: {printable(relative, 300)}: {printable(reason, 500)}")
    retryable = len(summary.failed) - len(summary.refused)
    if summary.refused:
        print(
            f"{len(summary.refused)} refused for their content: a second run gets the same answer; fix or remove them"
        )
    if retryable:
        print(f"run the same command again to retry the {retryable} other failed file(s); done ones are skipped")
    return EXIT_SERVICE if summary.failed else EXIT_OK


def _say(message: str) -> None:
    """One line on stderr: the message made printable (no control characters, capped)."""
    print(f"audio-inference: {printable(message, 2000)}", file=sys.stderr)


def _named_parameters(pairs: list[str], kinds: dict[str, type]) -> dict[str, float | bool | str]:
    """--param NAME=VALUE pairs: typed where the client knows the model's parameter, else sent as text
    (the service coerces form fields and names what it refuses)."""
    values: dict[str, float | bool | str] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"{pair!r} is not NAME=VALUE")
        kind = kinds.get(name)
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{name}={text!r}: true or false")
            values[name] = text.lower() == "true"
        elif kind is float:
            try:
                values[name] = float(text)
            except ValueError:
                raise ValueError(f"{name}={text!r}: a number") from None
        else:
            values[name] = text
    return values


if __name__ == "__main__":
    sys.exit(main())

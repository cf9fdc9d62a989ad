#!/usr/bin/env python
"""Agreement with the reference per format: the same rendered pieces encoded as every format people
send, transcribed by ours and by Basic Pitch 0.4.0 as its users run it, note against note.

Each piece of `make evaluate`'s set (fluidsynth, General MIDI) is encoded as WAV, FLAC, MP3, Ogg/Vorbis
(libsndfile's encoders), Ogg/Opus, M4A/AAC and WebM/Opus (PyAV's FFmpeg: inference.testing.encoding, the
format tests' encoders). Ours transcribes each file through inference's decode path (the sniffer, then
libsndfile or the sniffed container's FFmpeg demuxer); the reference runs `basic_pitch.inference.predict`
on the file's path in its own venv (librosa: libsndfile, then audioread, which runs the `ffmpeg` command
for M4A and WebM: `make synthesizer` installs it). Per piece and format it prints:

- notes: ours / the reference's;
- F1: onset F1 of ours against the reference (mir_eval, 50 ms, inference.testing.scoring.onset_f1);
- frame: the share of notes matched both ways with the same pitch and onsets within one frame (1/86 s),
  `make parity`'s criterion;
- Δonset: over the notes matched within 50 ms, the median and the largest |ours - reference| start time
  (a decoder that keeps AAC's encoder delay, 1024 samples = 23 ms at 44.1 kHz, shows here);
- same samples: onset F1 against the reference of ours on the samples the reference's decoder produced
  (librosa.load at the file's rate, written out by reference_predict.py): where this is 1.000 and F1 is
  not, the notes differ because the decoders' samples do (audioread hands librosa FFmpeg's 16-bit
  output, rounded; ours decodes to float), not because the transcriptions do;
- vs WAV: onset F1 of ours on this format against ours on the WAV, and the same for the reference: what
  the lossy codec itself moves, which both implementations see alike.

    .venv/bin/python -m measurement.formats_eval     (also the second part of `make evaluate`)
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from inference.config import load_config
from inference.testing.encoding import encoded_bytes
from inference.testing.scoring import ONSET_TOLERANCE_S, Note, onset_f1
from inference.transcriber import Transcriber
from measurement import precision_eval, reference_env
from measurement.parity import FRAME_S, match

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "formats-eval"
PIECES = ("piano-dense-chords", "guitar-arpeggios")
"""Two of the evaluation set's pieces: dense polyphony, and plucked strings with many onsets."""
OPUS_RATE = 48_000
"""Opus codes at 48 kHz (what browsers and phones record at); the piece is resampled for it."""
RECORDER_BITRATE = 128_000
"""What browsers' MediaRecorder uses for Opus (as the format tests)."""


def _sndfile(audio: np.ndarray, rate: int, fmt: str, subtype: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with sf.SoundFile(path, "w", rate, audio.shape[1], format=fmt, subtype=subtype) as out:
            for start in range(0, audio.shape[0], 8192):  # libsndfile's Vorbis writer fails on one large write
                out.write(audio[start : start + 8192])

    return write


def _pyav(audio: np.ndarray, rate: int, container: str, codec: str, bit_rate: int | None) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(encoded_bytes(audio, rate, container, codec, bit_rate=bit_rate))

    return write


@dataclass(frozen=True)
class Encoding:
    label: str
    suffix: str
    write: Callable[[Path], None]


def encodings(audio: np.ndarray, rate: int) -> list[Encoding]:
    """The piece (frames x channels at `rate`) in every format, as the tests and the phones make them."""
    at_48k = soxr.resample(audio, rate, OPUS_RATE).astype(np.float32)
    return [
        Encoding("WAV (PCM 16)", "wav", _sndfile(audio, rate, "WAV", "PCM_16")),
        Encoding("FLAC", "flac", _sndfile(audio, rate, "FLAC", "PCM_16")),
        Encoding("MP3 (LAME)", "mp3", _sndfile(audio, rate, "MP3", "MPEG_LAYER_III")),
        Encoding("Ogg/Vorbis", "ogg", _sndfile(audio, rate, "OGG", "VORBIS")),
        Encoding("Ogg/Opus 128k", "opus", _pyav(at_48k, OPUS_RATE, "ogg", "libopus", RECORDER_BITRATE)),
        Encoding("M4A/AAC", "m4a", _pyav(audio, rate, "ipod", "aac", None)),
        Encoding("WebM/Opus 128k", "webm", _pyav(at_48k, OPUS_RATE, "webm", "libopus", RECORDER_BITRATE)),
    ]


def onset_offsets(ours: list[Note], reference: list[Note]) -> list[float]:
    """ours - reference start times of the notes matched one to one (same pitch, onsets within 50 ms)."""
    by_pitch: dict[int, list[float]] = {}
    for start, _, pitch in reference:
        by_pitch.setdefault(pitch, []).append(start)
    offsets = []
    for start, _, pitch in sorted(ours):
        candidates = by_pitch.get(pitch, [])
        best = min(range(len(candidates)), key=lambda i: abs(candidates[i] - start), default=None)
        if best is not None and abs(candidates[best] - start) <= ONSET_TOLERANCE_S + 1e-9:
            offsets.append(start - candidates.pop(best))
    return offsets


def reference_notes(python: Path, paths: list[Path], decoded_dir: Path) -> dict[str, list[Note] | str]:
    """The reference's notes per file (or why it could not transcribe it), one process for all files;
    the samples its decoder read go to `decoded_dir`."""
    run = subprocess.run(
        [str(python), str(REPO / "measurement" / "reference_predict.py"), "{}", *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "REFERENCE_DECODED_DIR": str(decoded_dir)},
    )
    records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    out: dict[str, list[Note] | str] = {}
    for record in records:
        if "file" in record:
            notes = record.get("notes")
            out[record["file"]] = (
                [(float(s), float(e), int(p)) for s, e, p, _ in notes] if notes is not None else record["error"]
            )
    return out


@dataclass(frozen=True)
class Row:
    piece: str
    label: str
    ours: list[Note]
    reference: list[Note] | str
    ours_on_reference_samples: list[Note] | None


def evaluate() -> list[Row]:
    OUT.mkdir(parents=True, exist_ok=True)
    precision_eval.OUT.mkdir(parents=True, exist_ok=True)  # where the pieces are rendered (and kept)
    python = reference_env.ensure()
    transcriber = Transcriber(load_config(environ={}))
    scores = precision_eval.pieces()
    files: list[tuple[str, Encoding, Path]] = []
    for name in PIECES:
        audio, rate = sf.read(precision_eval.render(name, scores[name]), dtype="float32", always_2d=True)
        assert rate == precision_eval.RENDER_RATE
        for encoding in encodings(audio, rate):
            path = OUT / f"{name}.{encoding.suffix}"
            encoding.write(path)
            files.append((name, encoding, path))
    decoded_dir = OUT / "reference-decoded"
    decoded_dir.mkdir(exist_ok=True)
    reference = reference_notes(python, [path for _, _, path in files], decoded_dir)

    def notes(path: Path) -> list[Note]:
        return [(n.start_s, n.end_s, n.pitch) for n in transcriber.transcribe(path).notes]

    rows = []
    for name, encoding, path in files:
        decoded = decoded_dir / f"{path.name}.wav"
        rows.append(
            Row(
                name,
                encoding.label,
                notes(path),
                reference.get(str(path), "no answer from the reference"),
                notes(decoded) if decoded.exists() else None,
            )
        )
    return rows


def report(rows: list[Row]) -> list[str]:
    lines = [
        f"{'piece · format':36} {'ours/ref':>9} {'F1':>6} {'frame':>6} {'Δonset med':>10} {'max':>7} "
        f"{'same samples':>12} {'vs WAV: ours':>12} {'ref':>6}"
    ]
    wav = {row.piece: row for row in rows if row.label.startswith("WAV")}
    for row in rows:
        name = f"{row.piece} · {row.label}"
        if isinstance(row.reference, str):
            lines.append(f"{name:36} {len(row.ours):4d}/   - reference failed: {row.reference[:90]}")
            continue
        base = wav[row.piece]
        offsets = onset_offsets(row.ours, row.reference)
        matched, _ = match([(s, p) for s, _, p in row.ours], [(s, p) for s, _, p in row.reference])
        frame = matched / max(len(row.ours), len(row.reference), 1)
        median = statistics.median(offsets) if offsets else float("nan")
        worst = max((abs(o) for o in offsets), default=float("nan"))
        ref_vs_wav = onset_f1(base.reference, row.reference) if not isinstance(base.reference, str) else float("nan")
        same = (
            onset_f1(row.reference, row.ours_on_reference_samples)
            if row.ours_on_reference_samples is not None
            else float("nan")
        )
        ours_vs_wav = onset_f1(base.ours, row.ours)
        lines.append(
            f"{name:36} {len(row.ours):4d}/{len(row.reference):<4d} {onset_f1(row.reference, row.ours):6.3f} "
            f"{frame:6.1%} {median * 1000:+8.1f}ms {worst * 1000:5.1f}ms {same:12.3f} {ours_vs_wav:12.3f} "
            f"{ref_vs_wav:6.3f}"
        )
    return lines


def machine() -> str:
    """The CPU's model name and the vCPUs this process sees (`AMD EPYC, 2 vCPUs`)."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
    ]
    return f"{names[0] if names else platform.processor() or platform.machine()}, {os.cpu_count()} vCPUs"


def main() -> int:
    rows = evaluate()
    print(
        f"\nagreement with the reference per format ({datetime.date.today()}, {machine()}); "
        f"F1 = onset F1 of ours vs Basic Pitch 0.4.0's predict() on the same file, frame = notes matched "
        f"within one frame ({FRAME_S * 1000:.1f} ms) both ways, Δonset = ours - reference over the notes "
        f"matched within {ONSET_TOLERANCE_S * 1000:.0f} ms; vs WAV = onset F1 against the same "
        "implementation's notes on the WAV"
    )
    for line in report(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

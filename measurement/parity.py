#!/usr/bin/env python
"""Parity check: our transcription against basic-pitch 0.4.0's predict() (ONNX), same audio.

Generates its own audio (chords, melodies and dense pieces rendered with numpy)
in several formats, sample rates and channel counts, runs the reference in its
own venv and ours in-process, and matches notes: same pitch, onsets within one
frame (1/86 s). Prints the agreement per file; exits 1 if any file is below 99%.

    make parity            (= .venv/bin/python -m measurement.parity)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from inference.config import InferenceParameters, load_config
from inference.testing import signals
from inference.transcriber import Transcriber
from measurement import reference_env

REPO = Path(__file__).resolve().parents[1]

FRAME_S = 256 / 22050
THRESHOLD = 0.99
OUT = REPO / "build" / "parity"


@dataclass(frozen=True)
class Case:
    name: str
    notes: list
    duration_s: float
    sample_rate: int
    channels: int
    format: str
    subtype: str | None
    parameters: dict


def cases() -> list[Case]:
    p = signals
    return [
        Case("chords-44k1-stereo-pcm16.wav", p.chords(1, 30), 30, 44100, 2, "WAV", "PCM_16", {}),
        Case("melody-48k-mono.flac", p.melody(2, 30), 30, 48000, 1, "FLAC", "PCM_24", {}),
        Case("piece-22k05-mono-float.wav", p.piece(3, 30), 30, 22050, 1, "WAV", "FLOAT", {}),
        Case("piece-44k1-stereo.ogg", p.piece(4, 30), 30, 44100, 2, "OGG", "VORBIS", {}),
        Case("piece-44k1-stereo.mp3", p.piece(5, 30), 30, 44100, 2, "MP3", "MPEG_LAYER_III", {}),
        Case("melody-16k-mono.wav", p.melody(6, 20, 48, 72), 20, 16000, 1, "WAV", "PCM_16", {}),
        Case("chords-32k-6ch.flac", p.chords(7, 20), 20, 32000, 6, "FLAC", "PCM_16", {}),
        Case("piece-8k-mono.wav", p.piece(8, 20), 20, 8000, 1, "WAV", "PCM_16", {}),
        Case(
            "piece-44k1-tuned.wav",
            p.piece(9, 30),
            30,
            44100,
            2,
            "WAV",
            "PCM_16",
            {
                "onset_threshold": 0.6,
                "frame_threshold": 0.4,
                "minimum_note_length_ms": 80.0,
                "minimum_frequency_hz": 110.0,
                "maximum_frequency_hz": 1760.0,
            },
        ),
        Case(
            "piece-44k1-no-melodia.wav",
            p.piece(10, 30),
            30,
            44100,
            1,
            "WAV",
            "PCM_16",
            {"melodia_trick": False, "onset_threshold": 0.4},
        ),
    ]


def render(case: Case) -> Path:
    path = OUT / case.name
    mono = signals.render(case.notes, case.sample_rate, case.duration_s, seed=len(case.name))
    # channels differ slightly (gain per channel) so the mono mix is really exercised
    data = np.stack([mono * (1.0 - 0.1 * ch) for ch in range(case.channels)], axis=1)
    sf.write(path, data, case.sample_rate, format=case.format, subtype=case.subtype)
    return path


def match(ours: list[tuple[float, int]], ref: list[tuple[float, int]]) -> tuple[int, float]:
    """Greedy one-to-one matching: same pitch, onset within one frame. Returns (matched, max |Δonset|)."""
    by_pitch: dict[int, list[float]] = {}
    for start, pitch in ref:
        by_pitch.setdefault(pitch, []).append(start)
    matched, worst = 0, 0.0
    for start, pitch in sorted(ours):
        candidates = by_pitch.get(pitch, [])
        best = min(range(len(candidates)), key=lambda i: abs(candidates[i] - start), default=None)
        if best is not None and abs(candidates[best] - start) <= FRAME_S + 1e-9:
            worst = max(worst, abs(candidates[best] - start))
            matched += 1
            candidates.pop(best)
    return matched, worst


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    python = reference_env.ensure()
    config = load_config(environ={})
    transcriber = Transcriber(config)
    failures = 0
    print(f"{'file':34} {'ref':>5} {'ours':>5} {'match':>5} {'ours→ref':>9} {'ref→ours':>9} {'max Δonset':>10}")
    for case in cases():
        path = render(case)
        params = InferenceParameters(**case.parameters)
        ours = [(n.start_s, n.pitch) for n in transcriber.transcribe(path, params).notes]
        ref_run = subprocess.run(
            [str(python), str(REPO / "measurement" / "reference_predict.py"), json.dumps(case.parameters), str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        records = [json.loads(line) for line in ref_run.stdout.splitlines() if line.startswith("{")]
        ref_notes = next(r["notes"] for r in records if "notes" in r)
        ref = [(n[0], n[2]) for n in ref_notes]
        matched, worst = match(ours, ref)
        ours_ok = matched / len(ours) if ours else (1.0 if not ref else 0.0)
        ref_ok = matched / len(ref) if ref else (1.0 if not ours else 0.0)
        ok = ours_ok >= THRESHOLD and ref_ok >= THRESHOLD
        failures += not ok
        print(
            f"{case.name:34} {len(ref):5d} {len(ours):5d} {matched:5d} {ours_ok:9.2%} {ref_ok:9.2%} "
            f"{worst * 1000:8.3f}ms {'' if ok else ' BELOW 99%'}"
        )
    print(f"parity: {len(cases()) - failures} of {len(cases())} files at >= {THRESHOLD:.0%} agreement both ways")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

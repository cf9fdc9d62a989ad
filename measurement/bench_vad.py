#!/usr/bin/env python
"""Silero VAD's benchmark: real-time factor and peak memory on 10 and 60 minutes of speech, and its
accuracy there against ground truth by construction.

The recordings are espeak-ng sentences at known times between silence, noise and music
(`inference.testing.speech`), 44.1 kHz mono FLAC, built once under build/bench/. Each measurement
runs in a fresh process (measurement/bench_vad_one.py) so its peak RSS is its own; three rounds, medians.
A report, not a test: nothing is asserted.

    make bench-vad         (also part of make bench)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from inference.testing.speech import boundary_errors, speech_scene, speech_time_scores
from measurement.timing import measure, median_of

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "bench"
RATE = 44_100
ROUNDS = 3


def speech_file(minutes: int) -> tuple[Path, list[tuple[float, float]]]:
    """`minutes` of scenes one after another, written as they are made; the truth beside it as JSON."""
    path, truth_path = OUT / f"speech-{minutes}min.flac", OUT / f"speech-{minutes}min.truth.json"
    if not path.exists() or not truth_path.exists():
        truth: list[tuple[float, float]] = []
        partial = path.with_suffix(".partial.flac")
        with sf.SoundFile(partial, "w", samplerate=RATE, channels=1, format="FLAC", subtype="PCM_16") as out:
            offset, seed = 0.0, 0
            while offset < minutes * 60:
                scene = speech_scene(1000 + seed)
                out.write(np.clip(soxr.resample(scene.samples, scene.sample_rate, RATE), -1, 1))
                truth += [(offset + start, offset + end) for start, end in scene.speech]
                offset += scene.duration_s
                seed += 1
        partial.rename(path)
        truth_path.write_text(json.dumps(truth))
    return path, [tuple(span) for span in json.loads(truth_path.read_text())]


def measure_vad(*arguments: str) -> dict:
    return measure([sys.executable, str(REPO / "measurement" / "bench_vad_one.py"), *arguments])


def report() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print("\nSilero VAD (silero-vad 6.2.3's ONNX on onnxruntime, one thread), streamed from a file as a job does;")
    print(f"fresh process each, median of {ROUNDS} rounds; speech by espeak-ng between silence, noise and music\n")
    print(
        f"{'':8} {'audio s':>8} {'ours s':>7} {'RTF':>7} {'model s':>8} {'ours/model':>10} {'peak RSS MB':>11} "
        f"{'load s':>6} {'precision':>9} {'recall':>6} {'start err p95':>13}"
    )
    results = {}
    for minutes in (10, 60):
        path, truth = speech_file(minutes)
        rounds = [(measure_vad(str(path)), measure_vad(str(path), "--model-only")) for _ in range(ROUNDS)]
        ours, model = median_of([r[0] for r in rounds]), median_of([r[1] for r in rounds])
        found = [tuple(span) for span in rounds[0][0]["segments"]]
        precision, recall = speech_time_scores(truth, found, ours["duration_s"])
        starts = boundary_errors(truth, found)[0::2]
        results[minutes] = ours
        rtf = ours["seconds"] / ours["duration_s"]
        print(
            f"{minutes:>2} min   {ours['duration_s']:8.0f} {ours['seconds']:7.1f} {rtf:7.4f} "
            f"{model['seconds']:8.1f} {ours['seconds'] / model['seconds']:9.2f}x {ours['peak_rss_mb']:11.0f} "
            f"{ours['import_and_load_seconds']:6.2f} {precision:9.3f} {recall:6.3f} {np.percentile(starts, 95):12.3f}s"
        )
    ten, hour = results[10], results[60]
    per_second = (hour["seconds"] / hour["duration_s"]) / (ten["seconds"] / ten["duration_s"])
    memory = hour["peak_rss_mb"] / ten["peak_rss_mb"]
    print(
        f"60/10 min: time per audio second {per_second:4.2f}x, peak RSS {memory:4.2f}x "
        "(memory flat: the network's state carries across blocks; 4 bytes kept per 32 ms window)"
    )


if __name__ == "__main__":
    report()

#!/usr/bin/env python
"""Benchmark: ours vs basic-pitch 0.4.0's predict() (ONNX) vs the model alone, same files, one run.

For a 30 s clip and a 10 min file (44.1 kHz stereo WAV, rendered here), each
measurement runs in a fresh process so its peak RSS is its own, three rounds
interleaved, medians reported; then a 60 min file, ours only. Prints wall
times, peak RSS, import + model load time, and the ratios the targets are
stated in; then the service's figures (measurement/bench_service.py) and Silero VAD's
(measurement/bench_vad.py). Timings are
not asserted: this is a report, not a test.

    make bench             (= .venv/bin/python -m measurement.bench)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from inference.testing import signals
from measurement import bench_service, bench_vad, precision_eval, reference_env
from measurement.timing import measure, median_of
from operations import image_layout

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "build" / "bench"
PROJECT_PYTHON = sys.executable


def make_file(name: str, duration_s: float) -> Path:
    path = OUT / name
    if not path.exists():
        mono = signals.render(signals.piece(42, duration_s), 44100, duration_s, seed=42)
        sf.write(path, np.stack([mono, mono * 0.9], axis=1), 44100, subtype="PCM_16")
    return path


def make_long_file(name: str, minutes: int) -> Path:
    """A recording of `minutes` (a multiple of 10), rendered and written ten minutes at a time: the
    renderer holds a whole piece in float64, and an hour of it would not fit the point being measured."""
    path = OUT / name
    if not path.exists():
        partial = path.with_suffix(".partial.wav")
        with sf.SoundFile(partial, "w", samplerate=44100, channels=2, subtype="PCM_16") as out:
            for part in range(minutes // 10):
                mono = signals.render(signals.piece(42 + part, 600), 44100, 600, seed=42 + part)
                out.write(np.stack([mono, mono * 0.9], axis=1))
        partial.rename(path)
    return path


ROUNDS = 3
"""Rounds of the 30 s and 10 min measurements: on a shared 2-core machine one run varies by ~15%."""


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    reference_python = str(reference_env.ensure())
    files = {"30 s clip": make_file("clip-30s.wav", 30), "10 min file": make_file("file-10min.wav", 600)}
    ours_cmd = [PROJECT_PYTHON, str(REPO / "measurement" / "bench_ours.py")]
    ref_cmd = [reference_python, str(REPO / "measurement" / "reference_predict.py"), "{}"]
    env_note = f"{os.cpu_count()} CPUs"
    print(f"benchmark on {env_note}; each figure from a fresh process, median of {ROUNDS} interleaved rounds\n")
    rows = []
    for label, path in files.items():
        commands = ([*ref_cmd, str(path)], [*ours_cmd, str(path)], [*ours_cmd, str(path), "--model-only"])
        rounds = [[measure(command) for command in commands] for _ in range(ROUNDS)]
        ref, ours, model = (median_of([r[i] for r in rounds]) for i in range(3))
        rows.append((label, ref, ours, model))

    print(f"{'':12} {'':10} {'transcribe s':>12} {'peak RSS MB':>11} {'import+load s':>13}")
    for label, ref, ours, model in rows:
        print(
            f"{label:12} {'reference':10} {ref['seconds']:12.2f} {ref['peak_rss_mb']:11.0f} "
            f"{ref['import_and_load_seconds']:13.2f}"
        )
        print(
            f"{'':12} {'ours':10} {ours['seconds']:12.2f} {ours['peak_rss_mb']:11.0f} "
            f"{ours['import_and_load_seconds']:13.2f}"
        )
        print(f"{'':12} {'model only':10} {model['seconds']:12.2f} {model['peak_rss_mb']:11.0f} {'':>13}")
    print("\nratios (targets: speed-up >= 2.0x on 10 min, ours/model <= 1.2x, RSS < 300 MB, load < 0.5 s)")
    for label, ref, ours, model in rows:
        print(
            f"{label:12} reference/ours {ref['seconds'] / ours['seconds']:5.2f}x   "
            f"ours/model {ours['seconds'] / model['seconds']:5.2f}x   "
            f"RSS ours/reference {ours['peak_rss_mb'] / ref['peak_rss_mb']:4.2f}   "
            f"load ours/reference {ours['import_and_load_seconds'] / ref['import_and_load_seconds']:4.2f}"
        )
    ten_ref = next(ref for label, ref, _, _ in rows if label == "10 min file")
    engines_report(files["10 min file"], ten_ref)
    hour = measure([*ours_cmd, str(make_long_file("file-60min.wav", 60))])
    ten = next(ours for label, _, ours, _ in rows if label == "10 min file")
    per_minute = {label: m["seconds"] / minutes for label, m, minutes in (("10 min", ten, 10), ("60 min", hour, 60))}
    print("\n60 min file (ours; the reference is not run on it): memory flat and time linear in length")
    print(
        f"  10 min: {ten['seconds']:6.1f} s, {per_minute['10 min']:5.2f} s per audio minute, "
        f"peak RSS {ten['peak_rss_mb']:4.0f} MB, {ten['notes']} notes"
    )
    print(
        f"  60 min: {hour['seconds']:6.1f} s, {per_minute['60 min']:5.2f} s per audio minute, "
        f"peak RSS {hour['peak_rss_mb']:4.0f} MB, {hour['notes']} notes"
    )
    print(
        f"  60/10 min: time per audio minute {per_minute['60 min'] / per_minute['10 min']:4.2f}x (target <= 1.05x), "
        f"peak RSS {hour['peak_rss_mb'] / ten['peak_rss_mb']:4.2f}x (target <= 1.20x, and <= 400 MB)"
    )
    bench_service.report(files["30 s clip"])
    bench_service.report_jobs(files["10 min file"])
    bench_service.report_jobs(make_long_file("file-60min.wav", 60), repeats=1)
    bench_vad.report()
    image_size()
    return 0


ENGINES = (("onnxruntime", "exact"), ("openvino", "exact"), ("onnxruntime", "fast"))
"""(inference.runtime, precision) pairs measured; fast runs on OpenVINO whatever the runtime setting."""


def engines_report(path: Path, reference: dict) -> None:
    """Per runtime and precision, at 1 and 2 model threads: ours end to end, the model alone, peak RSS
    and import + load, interleaved rounds, medians; then what each does to the notes (make evaluate)."""
    ours_cmd = [PROJECT_PYTHON, str(REPO / "measurement" / "bench_ours.py"), str(path)]
    figures: dict[tuple[str, str, int], tuple[dict, dict]] = {}
    for threads in (1, 2):
        commands = {}
        for runtime, precision in ENGINES:
            engine = [*ours_cmd, "--runtime", runtime, "--precision", precision, "--threads", str(threads)]
            commands[(runtime, precision, threads)] = (engine, [*engine, "--model-only"])
        runs: dict[tuple[str, str, int], list[tuple[dict, dict]]] = {key: [] for key in commands}
        for _ in range(ROUNDS):
            for key, (whole_cmd, alone_cmd) in commands.items():
                runs[key].append((measure(whole_cmd), measure(alone_cmd)))
        for key, measured in runs.items():
            figures[key] = (median_of([m[0] for m in measured]), median_of([m[1] for m in measured]))
    print(f"\n{path.name}: per runtime and precision (fresh process each, median of {ROUNDS} interleaved rounds)")
    print(
        f"{'engine':34} {'threads':>7} {'ours s':>7} {'model s':>7} {'ours/model':>10} {'vs today':>8} "
        f"{'vs ref':>7} {'peak MB':>7} {'load s':>6}"
    )
    for (_, precision, threads), (e2e, alone) in figures.items():
        today = figures[("onnxruntime", "exact", threads)][0]
        label = f"{e2e['runtime']} {precision} ({e2e['compute']})"
        print(
            f"{label:34} {threads:7d} {e2e['seconds']:7.2f} {alone['seconds']:7.2f} "
            f"{e2e['seconds'] / alone['seconds']:9.2f}x {today['seconds'] / e2e['seconds']:7.2f}x "
            f"{reference['seconds'] / e2e['seconds']:6.2f}x {e2e['peak_rss_mb']:7.0f} "
            f"{e2e['import_and_load_seconds']:6.2f}"
        )
    print("  (vs today: onnxruntime exact at the same threads; vs ref: the reference's predict(), its own threads)")
    print("  targets: fast >= 1.8x; import + load <= 0.5 s (exact >= 1.1x is retired: docs/performance.md)")
    points, rows = precision_eval.evaluate()
    quality = precision_eval.summary(points, rows)
    print(f"\nwhat each does to the notes ({len(rows)} rendered files with scores; make evaluate for the whole table)")
    for label, (drop, consistency) in quality.items():
        print(f"  {label:44} worst F1 drop vs exact {drop:+.3f}   lowest consistency with exact {consistency:.3f}")


def image_size() -> None:
    """The Lambda image's weight over its base: the build stage's install plus what the final stage copies."""
    python = image_layout.image_python()
    if python is None:
        print("\nimage: no Python interpreter to install the image's requirements with; size not measured")
        return
    root = image_layout.assemble(image_layout.BUILD / "root", image_layout.install_dependencies(python))
    task_root, models = root, root.parent.parent / "opt" / "models"
    sources = sum(image_layout.size_mb(task_root / package) for package in ("inference", "service"))
    total = image_layout.size_mb(root.parent.parent)
    runtimes = {package: image_layout.size_mb(task_root / package) for package in ("onnxruntime", "openvino")}
    print(f"\nimage over its base (dependencies installed with {Path(python).name}, as the Dockerfile does)")
    print(
        f"  dependencies {image_layout.size_mb(task_root) - sources:6.0f} MB   sources {sources:4.1f} MB   "
        f"model {image_layout.size_mb(models):4.1f} MB   total {total:6.0f} MB (target < 250 MB)"
    )
    print(
        "  of which the runtimes, as pruned: "
        + ", ".join(f"{package} {size:.0f} MB" for package, size in runtimes.items())
        + " (OpenVINO is fast's runtime; without it the image would be that much smaller)"
    )


if __name__ == "__main__":
    sys.exit(main())

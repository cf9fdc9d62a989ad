"""How the benchmarks measure: one figure per fresh process (its peak RSS its own), medians over rounds.

The measuring scripts (bench_ours.py, bench_vad_one.py, reference_predict.py) print JSON lines; these
helpers run them and merge what they print.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(command: list[str]) -> dict:
    """Run one measurement in a fresh process; it reports its own times and peak RSS (VmHWM)."""
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {k: v for line in lines for k, v in line.items()}


def median_of(runs: list[dict]) -> dict:
    """Each figure's median over the runs (numbers only; other fields from the first run)."""
    merged = dict(runs[0])
    for key, value in merged.items():
        if isinstance(value, int | float):
            merged[key] = statistics.median(run[key] for run in runs)
    return merged

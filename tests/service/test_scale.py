"""The small scale test (`make bench-scale` is the large one): `timed-wait` jobs from three consumers,
one with a backlog that goes in first, on 4 played Lambda workers, with throttled deliveries and
workers killed mid-job. Every job ends succeeded or failed with a reason (none stranded), and the
consumers behind the backlog are not starved: each finishes all its jobs, and while all three have
work the small ones get a share of the workers well above their share of the catalog.

Run as `make bench-scale` runs it, in its own process (it starts its own emulator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_small_catalog_from_three_consumers_ends_with_nothing_stranded_and_nobody_starved() -> None:
    arguments = ("--workers", "4", "--jobs", "90", "--wait", "0.02", "--throttle", "0.1", "--kill", "0.05")
    done = subprocess.run(
        [sys.executable, "-m", "emulation.scale", *arguments, "--head-start", "1", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["jobs"] == 90 and report["stranded"] == 0, report
    assert report["succeeded"] + report["failed"] == 90
    assert report["throttled"] > 0 and report["killed"] > 0, "the faults happened"
    consumers = report["per_consumer"]
    assert all(c["done"] == c["jobs"] for c in consumers.values()), consumers
    # web-app has 60% of the catalog and a head start; its jobs in flight are capped (8), so the others'
    # jobs are not queued behind its backlog: lab (10%) gets a larger share while everyone has work.
    assert consumers["lab"]["share_while_all_busy"] > 0.10, consumers

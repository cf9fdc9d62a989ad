"""`make cost` (`python -m measurement.cost`, run as the target runs it: nothing imports measurement):
measured seconds x the memory billed x the recorded price; prices carry their date and source; a
region without recorded prices is refused naming the ones there are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.environments import PROD

REPO = Path(__file__).resolve().parents[2]
PRICES = REPO / "measurement" / "prices.json"


def cost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "measurement.cost", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    done = cost("--env", "prod", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def row(figures: dict[str, Any], model: str, precision: str, memory_mb: int) -> dict[str, Any]:
    return next(
        r for r in figures["rows"] if (r["model"], r["precision"], r["memory_mb"]) == (model, precision, memory_mb)
    )


def test_every_price_has_its_date_and_source_and_both_architectures() -> None:
    data = json.loads(PRICES.read_text())
    assert data["as_of"] and data["note"]
    for region in data["regions"].values():
        for service in ("lambda", "api_gateway_rest", "s3_standard", "sqs_standard"):
            assert region[service]["source"].startswith("https://aws.amazon.com/")
        assert set(region["lambda"]["gb_second"]) == {"x86_64", "arm64"}
    assert PROD.region in data["regions"]


def test_the_worker_bill_is_measured_seconds_times_gigabytes_times_the_price(figures: dict[str, Any]) -> None:
    """The issue's own example: exact on 1 thread (1,769 MB, 7.98 s per 10 min) against 2 threads (4.87 s)."""
    price = figures["prices"]["lambda"]["gb_second"]["x86_64"]
    one_vcpu = row(figures, "basic-pitch", "exact", 1769)["x86_64"]
    assert one_vcpu["worker_s"] == pytest.approx(7.98 * 6)
    ephemeral = figures["prices"]["lambda"]["ephemeral_gb_second_over_512_mb"]  # /tmp over 512 MB
    extra_gb = (PROD.jobs.worker_ephemeral_storage_mb - 512) / 1024
    assert one_vcpu["worker"] == pytest.approx(7.98 * 6 * (1769 / 1024 * price + extra_gb * ephemeral))
    two_vcpus = row(figures, "basic-pitch", "exact", 3538)["x86_64"]
    assert two_vcpus["worker_s"] == pytest.approx(4.87 * 6)
    assert one_vcpu["worker"] < two_vcpus["worker"], "1 vCPU is cheaper per audio hour, as the issue says"
    assert row(figures, "basic-pitch", "exact", 1769)["arm64"]["worker"] < one_vcpu["worker"]
    assert row(figures, "basic-pitch", "fast", 1769)["x86_64"]["total"] < one_vcpu["total"]


def test_the_recommendation_is_the_cheapest_size_that_finishes_the_longest_job(figures: dict[str, Any]) -> None:
    assert row(figures, "basic-pitch", "exact", 1769)["fits"] is False, "a 4 h job needs more than 1 vCPU"
    assert "2,048 MB for exact" in figures["recommendation"] and "the setting is 4,096 MB" in figures["recommendation"]
    table = cost("--env", "prod")
    assert table.returncode == 0 and "| basic-pitch | exact | 2,048 MB |" in table.stdout
    assert "WITHOUT a live fetch" in table.stdout, "the prices' caveat goes with every table"


def test_a_region_without_prices_is_refused() -> None:
    refused = cost("--region", "eu-west-3")
    assert refused.returncode == 2 and "eu-west-3" in refused.stdout and "us-east-1" in refused.stdout

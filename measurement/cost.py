"""`make cost`: dollars per audio hour for each model and precision at the worker memory sizes that
matter, on x86_64 and arm64, and the cheapest worker memory that still finishes the environment's
longest job.

Seconds come from measured figures, each cited (`MEASURED`): docs/performance.md's engines table
(make bench, the 10-minute file, 1 and 2 threads) and its Silero VAD table (make bench-vad). Lambda
gives one vCPU per 1,769 MB; the time at a memory size is the 1-thread figure at 1 vCPU (scaled up
below it), the 2-thread figure from 2 vCPUs (3,538 MB) up, and a straight line between (an
interpolation, not a measurement: 3,008 MB is 1.7 vCPUs). Graviton (arm64) was not measured: its rows
use the x86_64 seconds at arm64's price, a price comparison only; fast's bf16 and int8 paths are x86
instructions, so its arm64 row is the least certain. Prices are data (`measurement/prices.json`, with
their date and source), for the environment's region.

Per job, besides the worker's GB-seconds: one worker invocation, the API's requests (POST /jobs and the
status polls, each an API Gateway request and an API function invocation of `API_INVOCATION_S`), S3
requests (the upload, status writes, the ledger, results, downloads), SQS requests (S3's send, the
receive, the delete) and the upload kept `storage.input_expiry_days`. An audio hour is
`3600 / JOB_AUDIO_S` jobs.

    .venv/bin/python -m measurement.cost [--env prod]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.capacity import estimated_job_seconds
from config.environments import ENVIRONMENTS, get_environment
from contract.validation import ConfigError

PRICES = Path(__file__).with_name("prices.json")
VCPU_MB = 1769
"""Lambda: one vCPU per 1,769 MB."""
MEMORY_SIZES_MB = (1769, 2048, 3008, 3538, 4096)
"""One vCPU, 2 GB, the API function's size (1.7 vCPUs), two vCPUs, the worker's default."""


@dataclass(frozen=True)
class Measured:
    model: str
    precision: str
    one_thread_s: float
    """Seconds per `audio_s` of audio on 1 thread."""
    two_threads_s: float
    """On 2 threads (equal to one_thread_s for a model that uses one)."""
    audio_s: float
    source: str


MEASURED = (
    Measured("basic-pitch", "exact", 7.98, 4.87, 600.0, "docs/performance.md, end to end per engine (2026-12-02)"),
    Measured("basic-pitch", "fast", 3.12, 2.08, 600.0, "docs/performance.md, end to end per engine (2026-12-02)"),
    Measured("silero-vad", "exact", 16.7, 16.7, 3600.0, "docs/performance.md, Silero VAD, 60 min (2026-12-02)"),
)
JOB_AUDIO_S = 600.0
"""The jobs an audio hour is made of: 10-minute files (6 jobs)."""
UPLOAD_BYTES_PER_AUDIO_S = 16_000
"""128 kbit/s MP3."""
POLLS_PER_JOB = 12
"""GET /jobs/{id} per job: the client polls every 0.5 s growing 1.5x to 10 s."""
API_INVOCATION_S = 0.1
"""The API function's billed time per request (an assumption: a status read, a presign)."""
S3_PUTS_PER_JOB = 8  # upload, status x3 (awaiting, running, final), ledger x2, result JSON and MIDI
S3_GETS_PER_JOB = 6 + POLLS_PER_JOB  # the worker's download and status reads, the ledger, two result downloads
SQS_REQUESTS_PER_JOB = 3  # S3's send, the receive, the delete


def seconds_at(measured: Measured, memory_mb: int) -> float:
    """Seconds for `measured.audio_s` of audio at a memory size (see the module's note)."""
    vcpus = memory_mb / VCPU_MB
    if vcpus <= 1:
        return measured.one_thread_s / vcpus
    if vcpus >= 2:
        return measured.two_threads_s
    return measured.one_thread_s + (measured.two_threads_s - measured.one_thread_s) * (vcpus - 1)


def prices_for(region: str, path: Path = PRICES) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if region not in data["regions"]:
        raise ConfigError("region", region, f"one with recorded prices: {', '.join(sorted(data['regions']))}")
    return {"as_of": data["as_of"], "note": data["note"], **data["regions"][region]}


def dollars_per_audio_hour(
    measured: Measured, memory_mb: int, architecture: str, prices: dict[str, Any], *, ephemeral_mb: int, input_days: int
) -> dict[str, float]:
    """Each service's dollars per audio hour, and the total."""
    jobs = 3600.0 / JOB_AUDIO_S
    worker_s = seconds_at(measured, memory_mb) * 3600.0 / measured.audio_s
    lam = prices["lambda"]
    compute = worker_s * memory_mb / 1024 * lam["gb_second"][architecture]
    compute += worker_s * max(0, ephemeral_mb - 512) / 1024 * lam["ephemeral_gb_second_over_512_mb"]
    api_requests = jobs * (1 + POLLS_PER_JOB)
    api_function = api_requests * API_INVOCATION_S * 3008 / 1024 * lam["gb_second"][architecture]
    requests = (jobs + api_requests) * lam["per_million_requests"] / 1e6
    gateway = api_requests * prices["api_gateway_rest"]["per_million_requests"] / 1e6
    s3p = prices["s3_standard"]
    upload_gb = 3600 * UPLOAD_BYTES_PER_AUDIO_S / 1e9
    s3 = jobs * (S3_PUTS_PER_JOB * s3p["per_thousand_put"] + S3_GETS_PER_JOB * s3p["per_thousand_get"]) / 1000
    s3 += upload_gb * s3p["gb_month"] * input_days / 30
    sqs = jobs * SQS_REQUESTS_PER_JOB * prices["sqs_standard"]["per_million_requests"] / 1e6
    parts = {"worker": compute, "api": api_function + requests + gateway, "s3": s3, "sqs": sqs}
    return {**parts, "total": sum(parts.values()), "worker_s": worker_s}


def table(env_name: str, *, region: str | None = None) -> tuple[list[str], str, list[dict[str, Any]]]:
    """The markdown table's lines, the recommendation and the rows' figures, for an environment."""
    env = get_environment(env_name)
    region = region or env.region
    prices = prices_for(region)
    jobs = env.jobs
    lines = [
        f"$ per audio hour in {region} ({env_name}: worker /tmp {jobs.worker_ephemeral_storage_mb} MB; "
        f"prices of {prices['as_of']}; 10-minute jobs)",
        "",
        "| model | precision | memory | worker s per audio h | x86_64 (worker) | arm64 (x86 seconds) | fits a "
        f"{jobs.max_duration_s // 3600} h job |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: list[dict[str, Any]] = []
    best: dict[tuple[str, str], tuple[float, int]] = {}
    for measured in MEASURED:
        for memory in MEMORY_SIZES_MB:
            costs = {
                arch: dollars_per_audio_hour(
                    measured,
                    memory,
                    arch,
                    prices,
                    ephemeral_mb=jobs.worker_ephemeral_storage_mb,
                    input_days=env.storage.input_expiry_days,
                )
                for arch in ("x86_64", "arm64")
            }
            fits = estimated_job_seconds(jobs.max_duration_s, memory, jobs.max_decoded_samples) <= jobs.worker_timeout_s
            x86 = costs["x86_64"]["total"]
            lines.append(
                f"| {measured.model} | {measured.precision} | {memory:,} MB | {costs['x86_64']['worker_s']:.0f} | "
                f"${x86:.4f} (${costs['x86_64']['worker']:.4f}) | ${costs['arm64']['total']:.4f} | "
                f"{'yes' if fits else 'no'} |"
            )
            rows.append(
                {
                    "model": measured.model,
                    "precision": measured.precision,
                    "memory_mb": memory,
                    "fits": fits,
                    **{arch: costs[arch] for arch in costs},
                }
            )
            key = (measured.model, measured.precision)
            if fits and (key not in best or x86 < best[key][0]):
                best[key] = (x86, memory)
    sources = sorted({m.source for m in MEASURED})
    lines += ["", "Seconds from: " + "; ".join(sources) + ". Prices: " + prices["note"]]
    lines += [
        f"  {name}: {prices[name]['source']}" for name in ("lambda", "api_gateway_rest", "s3_standard", "sqs_standard")
    ]
    exact = best.get(("basic-pitch", "exact"))
    fast = best.get(("basic-pitch", "fast"))
    current = jobs.worker_memory_mb
    advice = (
        f"Recommended worker memory for {env_name}: "
        + (f"{exact[1]:,} MB for exact (${exact[0]:.4f}/audio h)" if exact else "none fits exact")
        + (f", {fast[1]:,} MB for fast (${fast[0]:.4f}/audio h)" if fast else "")
        + f": the cheapest size that still finishes a {jobs.max_duration_s:,} s job inside "
        f"{jobs.worker_timeout_s} s with the {2}x margin (config.capacity); the setting is {current:,} MB."
    )
    return lines, advice, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measurement.cost", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="prod", choices=sorted(ENVIRONMENTS))
    parser.add_argument("--region", help="another region's prices (default: the environment's)")
    parser.add_argument("--json", action="store_true", help="the figures as JSON (rows, recommendation, prices)")
    args = parser.parse_args(argv)
    try:
        lines, advice, rows = table(args.env, region=args.region)
    except ConfigError as exc:
        print(f"make cost: {exc}")
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "rows": rows,
                    "recommendation": advice,
                    "prices": prices_for(args.region or get_environment(args.env).region),
                }
            )
        )
        return 0
    print("\n".join(lines))
    print()
    print(advice)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The jobs pipeline at scale, on the emulator: N workers (Lambda's concurrency, played by threads),
thousands of `timed-wait` jobs from several consumers, faults injected; what finished, how fast, how
fairly, and how many were stranded.

Each worker is one execution environment: it receives one message at a time from the emulated queue
and runs the real job code (`service.jobs.runner.run_job`, the store, the per-key limits) with the
`timed-wait` model, then deletes the message, as the event source mapping does. Faults: a delivery
may be throttled (`throttle`: received and dropped, its receive counted, as Lambda's pollers do
beyond the function's concurrency) or the worker killed mid-job (`kill`: the job marked running,
then nothing: no delete, no final status). A drainer thread plays the dead-letter function. Each
consumer keeps submitting through `POST /jobs`'s admission (`Quotas`: its jobs in flight), backing
off on 429 as the batch client does. `timed-wait` waits instead of computing, so the curve shows
the pipeline (moto, the store's compare-and-swap writes), not this machine's cores.

    .venv/bin/python -m emulation.scale --workers 1 2 4 8 16 --jobs 1200 --wait 0.05
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import random
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import numpy as np
import requests
import soundfile as sf
from aws_lambda_powertools import Logger

from emulation import timed_wait
from emulation.local_jobs import JobQueues, create_pipeline
from emulation.local_server import free_port, local_settings, start_emulator
from inference.config import load_config
from inference.models.registry import register
from inference.transcriber import Transcriber
from service.http.errors import ApiError
from service.jobs.messages import uploaded_keys
from service.jobs.quotas import Quotas
from service.jobs.requests import JobRequest, create_job
from service.jobs.runner import run_job, settle_dead_letter
from service.jobs.store import FINAL, JobStore

VISIBILITY_S = 3
"""How soon an unfinished delivery comes back (short, so kills and throttles resolve within the run)."""


@dataclass
class Report:
    workers: int
    jobs: int
    seconds: float
    succeeded: int
    failed: int
    stranded: int
    throttled: int
    killed: int
    errors: int = 0
    """Invocations that raised (a receipt expired under load, a status write that kept losing its race):
    their messages came back, as on Lambda."""
    per_consumer: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each consumer: jobs, done, and its share of the jobs finished while every consumer still had work."""

    @property
    def throughput(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


class Pipeline:
    """One emulator with the buckets, the queues and the model, shared by the runs."""

    def __init__(self, max_jobs_in_flight: int = 8) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = start_emulator(free_port())
        base = local_settings()
        jobs = dataclasses.replace(base.jobs, max_jobs_in_flight=max_jobs_in_flight)
        self.settings = dataclasses.replace(base, jobs=jobs)
        self.queues: JobQueues = create_pipeline(self.settings, visibility_timeout_s=VISIBILITY_S)
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.store = JobStore(self.s3, self.settings)
        self.quotas = Quotas(self.s3, self.settings, self.store)
        register(timed_wait.SPEC)
        folder = Path(tempfile.mkdtemp(prefix="timed-wait-"))
        self.model = Transcriber(load_config(), artifact=timed_wait.write_artifact(folder), model_name="timed-wait")
        self.models: Mapping[str, Transcriber] = {"timed-wait": self.model}
        self.logger = Logger(service="scale-test", level="ERROR")
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(800, dtype=np.float32), 8000, format="WAV")  # 0.1 s: decoding stays cheap
        self.audio = buffer.getvalue()

    def close(self) -> None:
        self.server.stop()

    def drain_queues(self) -> None:
        """What a previous run (or S3's test event) left in either queue."""
        for url in (self.queues.url, self.queues.dead_letter_url):
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def run(
        self,
        *,
        workers: int,
        jobs_by_consumer: Mapping[str, int],
        wait_s: float,
        throttle: float = 0.0,
        kill: float = 0.0,
        settle_s: float = 120.0,
        seed: int = 7,
    ) -> Report:
        """Submit every consumer's jobs, run them on `workers`, wait until every job is final or `settle_s`
        passed after the last submission, and report.

        The first consumer's backlog goes in first: the workers start and the others ask only once it
        holds all the queue will take from it (its whole catalog, or as many jobs as admission lets it
        have in flight, shown by its first 429), so the order of service is the queue's, not the clock's."""
        self.drain_queues()
        chance = random.Random(seed)
        lock = threading.Lock()
        stop = threading.Event()
        created: dict[str, list[str]] = {c: [] for c in jobs_by_consumer}
        finished_order: list[str] = []
        owner_of: dict[str, str] = {}
        created_at: dict[str, float] = {}
        finished_at: dict[str, float] = {}
        counts = {"throttled": 0, "killed": 0, "errors": 0}
        backlog_in = threading.Event()

        def submit(consumer: str, total: int) -> None:
            key = f"key{consumer.replace('-', '')}"
            request = JobRequest(
                filename="take.wav",
                content_type="audio/wav",
                size_bytes=None,
                parameters={"wait_s": wait_s},
                model="timed-wait",
            )
            while len(created[consumer]) < total and not stop.is_set():
                try:
                    job = create_job(
                        request,
                        limits=self.settings.jobs,
                        store=self.store,
                        s3=self.s3,
                        status_url="/jobs/{job_id}",
                        owner=key,
                        admit=self.quotas.admit,
                    )
                except ApiError as refused:  # 429: its jobs in flight; back off as the batch client does
                    if refused.status != 429:
                        raise
                    backlog_in.set()
                    time.sleep(0.05)
                    continue
                form = job["upload"]
                requests.post(
                    form["url"], data=form["fields"], files={"file": ("t.wav", self.audio, "audio/wav")}, timeout=60
                ).raise_for_status()
                with lock:
                    created[consumer].append(job["job_id"])
                    owner_of[job["job_id"]] = consumer
                    created_at[job["job_id"]] = time.monotonic()
            backlog_in.set()

        def worker() -> None:
            while not stop.is_set():
                messages = self.sqs.receive_message(
                    QueueUrl=self.queues.url, MaxNumberOfMessages=1, WaitTimeSeconds=1, AttributeNames=["All"]
                ).get("Messages", [])
                for message in messages:
                    receives = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
                    roll = chance.random()
                    if roll < throttle:
                        with lock:
                            counts["throttled"] += 1
                        continue  # never invoked: back after the visibility timeout, one receive spent
                    keys = uploaded_keys(message["Body"])
                    if roll < throttle + kill:
                        for key in keys:
                            job_id = self.store.job_id_of(key)
                            if job_id:
                                self.store.advance(job_id, "running", attempts=receives)
                        with lock:
                            counts["killed"] += 1
                        continue  # killed mid-job: running, no delete, no final status
                    try:
                        for key in keys:
                            outcome = run_job(
                                key,
                                receive_count=receives,
                                store=self.store,
                                s3=self.s3,
                                models=self.models,
                                logger=self.logger,
                            )
                            if outcome is not None and outcome.status in FINAL:
                                self.quotas.charge(outcome.owner, outcome.job_id, outcome.audio_seconds)
                                with lock:
                                    finished_order.append(outcome.job_id)
                                    finished_at.setdefault(outcome.job_id, time.monotonic())
                        self.sqs.delete_message(QueueUrl=self.queues.url, ReceiptHandle=message["ReceiptHandle"])
                    except Exception:  # the invocation failed (or its receipt expired): the message comes back
                        with lock:
                            counts["errors"] += 1

        def drainer() -> None:
            while not stop.is_set():
                messages = self.sqs.receive_message(
                    QueueUrl=self.queues.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                for message in messages:
                    for key in uploaded_keys(message["Body"]):
                        outcome = settle_dead_letter(key, s3=self.s3, store=self.store, logger=self.logger)
                        if outcome is not None and outcome.status in FINAL:
                            self.quotas.charge(outcome.owner, outcome.job_id, 0.0)
                            with lock:
                                finished_order.append(outcome.job_id)
                                finished_at.setdefault(outcome.job_id, time.monotonic())
                    self.sqs.delete_message(
                        QueueUrl=self.queues.dead_letter_url, ReceiptHandle=message["ReceiptHandle"]
                    )

        total = sum(jobs_by_consumer.values())
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        threads.append(threading.Thread(target=drainer, daemon=True))
        submitters = [threading.Thread(target=submit, args=(c, n), daemon=True) for c, n in jobs_by_consumer.items()]
        started = time.monotonic()
        submitters[0].start()
        backlog_in.wait(timeout=settle_s)
        for thread in [*threads, *submitters[1:]]:
            thread.start()
        for thread in submitters:
            thread.join()
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            with lock:
                if len(set(finished_order)) >= total:
                    break
            time.sleep(0.1)
        seconds = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        statuses = {job_id: self.store.read(job_id) for ids in created.values() for job_id in ids}
        final = {j: s[0] for j, s in statuses.items() if s is not None and s[0].status in FINAL}
        report = Report(
            workers=workers,
            jobs=total,
            seconds=seconds,
            succeeded=sum(1 for s in final.values() if s.status == "succeeded"),
            failed=sum(1 for s in final.values() if s.status == "failed"),
            stranded=total - len(final),
            throttled=counts["throttled"],
            killed=counts["killed"],
            errors=counts["errors"],
        )
        # Fairness: the shares of the jobs finished while every consumer still had jobs to finish.
        remaining = dict(jobs_by_consumer)
        contested: dict[str, int] = dict.fromkeys(jobs_by_consumer, 0)
        for job_id in dict.fromkeys(finished_order):
            consumer = owner_of.get(job_id)
            if consumer is None:
                continue
            if all(left > 0 for left in remaining.values()):
                contested[consumer] += 1
            remaining[consumer] -= 1
        contested_total = sum(contested.values()) or 1
        ranks: dict[str, list[int]] = {c: [] for c in jobs_by_consumer}
        for rank, job_id in enumerate(dict.fromkeys(finished_order), start=1):
            if job_id in owner_of:
                ranks[owner_of[job_id]].append(rank)
        for consumer, jobs in jobs_by_consumer.items():
            done = sum(1 for j in created[consumer] if j in final)
            waits = sorted(finished_at[j] - created_at[j] for j in created[consumer] if j in finished_at)
            report.per_consumer[consumer] = {
                "jobs": jobs,
                "done": done,
                "share_while_all_busy": contested[consumer] / contested_total,
                "half_done_at": _half_done_at(ranks[consumer], jobs, total),
                "mean_wait_s": sum(waits) / len(waits) if waits else 0.0,
                "p95_wait_s": waits[int(0.95 * (len(waits) - 1))] if waits else 0.0,
            }
        return report


def _half_done_at(ranks: list[int], jobs: int, total: int) -> float:
    """The share of all jobs finished when the consumer's median job finished: where its work sat in the
    order of service. A FIFO queue behind another consumer's backlog puts it late (towards 1); a fair one
    puts a small consumer early. Unlike the share while all busy, one of its jobs retried after a
    visibility timeout (a throttle, a kill) does not move it."""
    half = (jobs + 1) // 2
    return ranks[half - 1] / total if len(ranks) >= half and total else 1.0


CONSUMERS = {"web-app": 0.6, "batch-partner": 0.3, "lab": 0.1}
"""Three consumers, one with most of the catalog."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulation.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--jobs", type=int, default=1200, help="jobs per run, split 60/30/10 between 3 consumers")
    parser.add_argument("--wait", type=float, default=0.05, help="seconds each job's model waits")
    parser.add_argument("--throttle", type=float, default=0.05, help="share of deliveries throttled")
    parser.add_argument("--kill", type=float, default=0.02, help="share of deliveries whose worker is killed")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=8,
        help="each consumer's jobs in flight (POST /jobs admission); a large value shows the queue without it",
    )
    parser.add_argument("--json", action="store_true", help="one JSON report per run, nothing else")
    args = parser.parse_args(argv)
    pipeline = Pipeline(max_jobs_in_flight=args.max_in_flight)
    split = {c: int(round(args.jobs * share)) for c, share in CONSUMERS.items()}

    def run(workers: int) -> Report:
        return pipeline.run(
            workers=workers,
            jobs_by_consumer=split,
            wait_s=args.wait,
            throttle=args.throttle,
            kill=args.kill,
        )

    try:
        if args.json:
            for workers in args.workers:
                report = run(workers)
                print(json.dumps({**dataclasses.asdict(report), "throughput": report.throughput}), flush=True)
            return 0
        print(
            f"timed-wait {args.wait:g} s per job; {sum(split.values())} jobs per run {split}; "
            f"throttled {args.throttle:.0%}, killed {args.kill:.0%} of deliveries; visibility {VISIBILITY_S} s; "
            f"max {pipeline.settings.jobs.max_jobs_in_flight} jobs in flight per consumer; web-app's backlog "
            "queued first"
        )
        print(
            "| workers | jobs | seconds | jobs/s | ideal jobs/s | succeeded | failed (dead-lettered) | stranded "
            "| throttled | killed | share while all busy (web-app / batch-partner / lab) | half done at (same) "
            "| mean wait s (same) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for workers in args.workers:
            report = run(workers)
            shares = " / ".join(f"{report.per_consumer[c]['share_while_all_busy']:.2f}" for c in CONSUMERS)
            halves = " / ".join(f"{report.per_consumer[c]['half_done_at']:.2f}" for c in CONSUMERS)
            waits = " / ".join(f"{report.per_consumer[c]['mean_wait_s']:.1f}" for c in CONSUMERS)
            print(
                f"| {workers} | {report.jobs} | {report.seconds:.1f} | {report.throughput:.1f} | "
                f"{workers / args.wait:.0f} | {report.succeeded} | {report.failed} | {report.stranded} | "
                f"{report.throttled} | {report.killed} | {shares} | {halves} | {waits} |",
                flush=True,
            )
    finally:
        pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

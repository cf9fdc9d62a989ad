"""Per-consumer limits on jobs: how many one API key may have unfinished, and how many audio seconds of
its jobs may finish per UTC day; and a queued job's place.

Why admission, not per-consumer queues. The queue is SQS standard, which hands messages out roughly in
the order they came, and every consumer's jobs share it and the worker's concurrency. One key with
10,000 files would fill it; with `max_jobs_in_flight` a key holds at most that many places, the rest
wait at the client (429 and Retry-After; the batch client backs off and resumes), so another key's
job waits behind at most the sum of the keys' limits, never behind a backlog. While every consumer
keeps its queue full, each gets the workers in proportion to its limit. Per-consumer queues would
need an event source mapping each (at least 2 concurrent invocations apiece, all inside the worker's
reserved concurrency) and a stack change per consumer; a scheduler would need a store and a service
of its own. Admission needs one small document per key.

The ledger (`<output prefix>jobs/_keys/<key id>.json`): the key's unfinished jobs and the day's audio
seconds, every write a compare-and-swap on its ETag, as the jobs' own status. The worker charges a
succeeded job's duration; finished (or expired, or never created) jobs are pruned when the key asks
for a new one. A key's consumer is what `make keys` wrote when it made the key (`Consumers`), read once
per container; a key with none gets the environment's limits. No key (the keyless local server): no limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from contract import object_keys
from contract.settings import ServiceSettings
from service.http.errors import ApiError
from service.jobs.store import FINAL, JobStore, is_job_id

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

IN_FLIGHT_RETRY_AFTER_S = 30
"""Retry-After of a refusal for jobs in flight: a job's end cannot be known, so ask again soon."""
PRUNE_GRACE_S = 120
"""A job in the ledger with no status yet is being created: kept this long before it counts as never made."""
_KEY_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_CAS_ATTEMPTS = 8


class TooManyRequestsError(ApiError):
    """429, with the seconds after which asking again may succeed (the Retry-After header)."""

    def __init__(self, code: str, message: str, retry_after_s: int) -> None:
        super().__init__(429, code, message)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}


@dataclass
class Ledger:
    in_flight: dict[str, str] = field(default_factory=dict)
    """Job id -> when it was admitted."""
    day: str = ""
    audio_s: float = 0.0

    def today(self, now: datetime) -> Ledger:
        day = now.date().isoformat()
        return self if self.day == day else Ledger(in_flight=dict(self.in_flight), day=day, audio_s=0.0)


class Consumers:
    """A key id's consumer: the document `make keys` writes beside the ledgers when it makes a key
    (`<output prefix>jobs/_consumers/<key id>`, the consumer's name), read once per container. Not the
    key's own tags: reading an API key through API Gateway's API can read its value too, and the
    functions may read no key's value."""

    def __init__(self, s3: S3Client, settings: ServiceSettings) -> None:
        self._s3 = s3
        self._settings = settings
        self._known: dict[str, str | None] = {}

    def of(self, key_id: str) -> str | None:
        if key_id not in self._known:
            key = object_keys.key_consumer_document(self._settings.output_prefix, key_id)
            try:
                body = self._s3.get_object(Bucket=self._settings.output_bucket, Key=key)["Body"].read()
                self._known[key_id] = body.decode().strip() or None
            except ClientError:
                return None  # none written (a key made by hand): the environment's limits, asked again later
        return self._known[key_id]


class Quotas:
    def __init__(
        self, s3: S3Client, settings: ServiceSettings, store: JobStore, consumers: Consumers | None = None
    ) -> None:
        self._s3 = s3
        self.settings = settings
        self._store = store
        self._consumers = consumers

    def ledger_key(self, key_id: str) -> str:
        return f"{self.settings.output_prefix}{object_keys.JOB_KEYS}{object_keys.JOB_LEDGERS}{key_id}.json"

    def limits(self, key_id: str) -> tuple[int, int, str]:
        """(jobs in flight, audio seconds per day, whose limits: the consumer or the environment)."""
        consumer = self._consumers.of(key_id) if self._consumers else None
        jobs, seconds = self.settings.job_limits_of(consumer)
        if not consumer:
            return jobs, seconds, "the per-key"
        return jobs, seconds, f"consumer {consumer}'" + ("" if consumer.endswith("s") else "s")

    def admit(self, key_id: str | None, job_id: str, *, now: datetime | None = None) -> None:
        """Count `job_id` against the key's limits, or raise 429 naming the limit it would pass."""
        if key_id is None or not _KEY_ID.match(key_id):
            return
        max_jobs, max_audio_s, whose = self.limits(key_id)
        for _ in range(_CAS_ATTEMPTS):
            moment = now or datetime.now(UTC)
            found, etag = self._read(key_id)
            ledger = found.today(moment)
            if ledger.audio_s >= max_audio_s:
                midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
                raise TooManyRequestsError(
                    "audio_quota_exceeded",
                    f"{whose} limit of {max_audio_s:,} audio seconds of jobs per UTC day is used "
                    f"({ledger.audio_s:,.0f} s): new jobs are taken again after midnight UTC",
                    int((midnight - moment).total_seconds()) + 1,
                )
            if len(ledger.in_flight) >= max_jobs:
                ledger.in_flight = self._unfinished(ledger.in_flight, moment)
            if len(ledger.in_flight) >= max_jobs:
                raise TooManyRequestsError(
                    "too_many_jobs_in_flight",
                    f"{whose} limit of {max_jobs} jobs in flight (awaiting upload, queued or running) is "
                    "reached: ask again when one has finished",
                    IN_FLIGHT_RETRY_AFTER_S,
                )
            ledger.in_flight[job_id] = moment.isoformat()
            if self._write(key_id, ledger, etag):
                return
        raise TooManyRequestsError(
            "too_many_jobs_in_flight", "this key's jobs changed too often to count: ask again", 1
        )

    def charge(self, key_id: str | None, job_id: str, audio_s: float, *, now: datetime | None = None) -> None:
        """The job finished: it leaves the key's jobs in flight, and its audio counts toward the day."""
        if key_id is None or not _KEY_ID.match(key_id):
            return
        for _ in range(_CAS_ATTEMPTS):
            found, etag = self._read(key_id)
            ledger = found.today(now or datetime.now(UTC))
            ledger.in_flight.pop(job_id, None)
            ledger.audio_s += audio_s
            if self._write(key_id, ledger, etag):
                return

    def _unfinished(self, in_flight: dict[str, str], now: datetime) -> dict[str, str]:
        """The ledger's jobs that are still unfinished (final, expired and never-made ones pruned)."""
        kept: dict[str, str] = {}
        for job_id, admitted in in_flight.items():
            found = self._store.read(job_id) if is_job_id(job_id) else None
            if found is None:
                if now - datetime.fromisoformat(admitted) < timedelta(seconds=PRUNE_GRACE_S):
                    kept[job_id] = admitted  # its status is being written
                continue
            status = found[0]
            expired = (
                status.status == "awaiting_upload"
                and status.upload_expires_at is not None
                and now > datetime.fromisoformat(status.upload_expires_at)
                and not self._store.upload_arrived(status)
            )
            if status.status not in FINAL and not expired:
                kept[job_id] = admitted
        return kept

    def _read(self, key_id: str) -> tuple[Ledger, str | None]:
        try:
            obj = self._s3.get_object(Bucket=self.settings.output_bucket, Key=self.ledger_key(key_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                return Ledger(), None
            raise
        return Ledger(**json.loads(obj["Body"].read())), obj["ETag"]

    def _write(self, key_id: str, ledger: Ledger, etag: str | None) -> bool:
        """The ledger, if nobody wrote it since `etag` (None: if nobody made it yet)."""
        body = json.dumps({"in_flight": ledger.in_flight, "day": ledger.day, "audio_s": ledger.audio_s}).encode()
        condition: dict[str, str] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self._s3.put_object(
                Bucket=self.settings.output_bucket,
                Key=self.ledger_key(key_id),
                Body=body,
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise
        return True

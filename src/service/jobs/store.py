"""Asynchronous jobs for audio too long for a request: where each part lives and how its status moves.

A job is a status document in the output bucket (`<output prefix>jobs/<id>/status.json`), an upload
the client sends straight to the input bucket (`<input prefix>jobs/<id>/<name>`, through a presigned
POST) and, when done, result JSON and MIDI beside the status. Status moves forward only:
awaiting_upload -> queued -> running -> succeeded | failed (or expired, when no upload came while its form
was valid). Every write is a compare-and-swap on the
document's ETag (S3 conditional writes), and a write that would move a job backwards, or past a final
state, is dropped: a slow or repeated worker can never overwrite a newer status with an older one.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from contract import object_keys
from contract.settings import ServiceSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STATES = ("awaiting_upload", "queued", "running", "succeeded", "failed")
"""What the status document holds; GET /jobs/{id} also reads `queued` (the upload is in, the worker
has not started) and `expired` (the form expired with no upload the worker would run)."""
FINAL = ("succeeded", "failed")
_RANK = {"awaiting_upload": 0, "queued": 1, "running": 2, "succeeded": 3, "failed": 3}
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_CAS_ATTEMPTS = 8
UPLOAD_TOKEN_FIELD = "x-amz-meta-job-token"
"""The upload form's signed field (the object's metadata `job-token`) that binds an upload to its job."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.match(value))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class JobStatus:
    job_id: str
    status: str
    created_at: str
    updated_at: str
    upload_key: str
    filename: str | None = None
    content_type: str = "application/octet-stream"
    size_bytes: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    """The client's parameter values (validated when the job was created)."""
    model: str | None = None
    """The model the job runs (None in jobs created before there was a choice: the default model)."""
    upload_token: str = ""
    """A secret among the upload form's signed fields (x-amz-meta-job-token): the worker runs an upload
    only when it carries this job's token, so another job's form cannot feed this job (stores that do
    not enforce POST policies, such as moto, would otherwise let it)."""
    upload_expires_at: str | None = None
    """When the upload form stops working; a job with no upload by then reads `expired`."""
    refused_upload_etag: str | None = None
    """The ETag of an upload the worker refused (no valid token, or too late): it does not make the
    job `queued`, and the job's own upload may still come while its form is valid."""
    attempts: int = 0
    error: dict[str, str] | None = None
    result: dict[str, Any] | None = None
    """json_key, midi_key (for a model with MIDI), duration_s and the model's counts (notes_count,
    segments_count...) once succeeded."""
    owner: str | None = None
    """The API key id that created the job (API Gateway's requestContext.identity.apiKeyId); only that
    key reads it. None where no key is asked for (the local server)."""

    def to_json(self) -> bytes:
        document = {k: v for k, v in self.__dict__.items() if v is not None}
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JobStatus:
        return cls(**json.loads(data))


class StaleStatusError(Exception):
    """The status moved on (or another writer raced us) more often than a compare-and-swap retries."""


class JobStore:
    """Job documents and keys in the two buckets."""

    def __init__(self, s3: S3Client, settings: ServiceSettings) -> None:
        self._s3 = s3
        self.settings = settings

    # --- where things live --------------------------------------------------------------------
    @property
    def upload_prefix(self) -> str:
        return f"{self.settings.input_prefix}{object_keys.JOB_KEYS}"

    def upload_key(self, job_id: str, filename: str | None) -> str:
        return f"{self.upload_prefix}{job_id}/{filename or 'audio'}"

    def job_id_of(self, upload_key: str) -> str | None:
        """The job an uploaded object belongs to, or None for a key outside the jobs prefix."""
        rest = upload_key.removeprefix(self.upload_prefix)
        job_id = rest.split("/", 1)[0] if rest != upload_key and "/" in rest else ""
        return job_id if is_job_id(job_id) else None

    def status_key(self, job_id: str) -> str:
        return f"{self.settings.output_prefix}{object_keys.JOB_KEYS}{job_id}/{object_keys.JOB_STATUS_DOCUMENT}"

    def result_keys(self, job_id: str) -> tuple[str, str]:
        base = f"{self.settings.output_prefix}{object_keys.JOB_KEYS}{job_id}/{object_keys.JOB_RESULT_STEM}"
        return f"{base}.json", f"{base}.mid"

    # --- status ------------------------------------------------------------------------------
    def create(self, status: JobStatus) -> None:
        """The first status of a new job; never replaces an existing one."""
        self._s3.put_object(
            Bucket=self.settings.output_bucket,
            Key=self.status_key(status.job_id),
            Body=status.to_json(),
            ContentType="application/json",
            IfNoneMatch="*",
        )

    def read(self, job_id: str) -> tuple[JobStatus, str] | None:
        """The status and its ETag, or None for an unknown job."""
        key = self.status_key(job_id)
        try:
            obj = self._s3.get_object(Bucket=self.settings.output_bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            # S3 answers AccessDenied, not NoSuchKey, for a missing key when the role may list only a prefix.
            if code in ("NoSuchKey", "404") or (
                code == "AccessDenied" and not self._exists(self.settings.output_bucket, key)
            ):
                return None
            raise
        return JobStatus.from_json(obj["Body"].read()), obj["ETag"]

    def advance(self, job_id: str, to: str, **changes: Any) -> JobStatus | None:
        """Move the job to `to` unless it is already there or further; returns the status now stored.

        A compare-and-swap on the ETag: if another writer got in between, re-read and decide again.
        Returns None for an unknown job.
        """
        for _ in range(_CAS_ATTEMPTS):
            current = self.read(job_id)
            if current is None:
                return None
            status, etag = current
            if status.status in FINAL or _RANK[to] < _RANK[status.status]:
                return status  # never backwards, never past a final state
            updated = replace(status, status=to, updated_at=now(), **changes)
            try:
                self._s3.put_object(
                    Bucket=self.settings.output_bucket,
                    Key=self.status_key(job_id),
                    Body=updated.to_json(),
                    ContentType="application/json",
                    IfMatch=etag,
                )
                return updated
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in (
                    "PreconditionFailed",
                    "412",
                    "ConditionalRequestConflict",
                ):
                    raise
        raise StaleStatusError(f"job {job_id}: the status kept changing under {_CAS_ATTEMPTS} attempts to set {to}")

    def upload_arrived(self, status: JobStatus) -> bool:
        """Whether an upload the worker has not refused is at the job's key (the job is then queued)."""
        etag = self._etag(self.settings.input_bucket, status.upload_key)
        return etag is not None and etag != status.refused_upload_etag

    def _exists(self, bucket: str, key: str) -> bool:
        return self._etag(bucket, key) is not None

    def _etag(self, bucket: str, key: str) -> str | None:
        """The ETag of `key` if it exists, asked as a listing of that exact prefix (what a prefix-scoped
        grant allows)."""
        listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        return next((str(item.get("ETag")) for item in listed if item.get("Key") == key), None)

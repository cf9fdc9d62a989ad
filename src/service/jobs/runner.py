"""One job, as the worker runs it for each S3 `ObjectCreated` message: download, transcribe, store.

Safe to run twice for the same upload (SQS delivers at least once): a job already final is
acknowledged and left alone, results are written under fixed keys, and the status only moves forward.
Audio that cannot be decoded fails the job at once (retrying cannot help); any other error is raised
so SQS retries the message, and the last allowed attempt marks the job failed before the message
moves to the dead-letter queue. A message that reaches it otherwise (throttled deliveries, a worker
killed or timed out on each) is settled by the drainer (`settle_dead_letter`): failed, with the reason.
The input is never deleted.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from inference.errors import AudioError
from inference.transcriber import Transcriber
from service.http.errors import from_inference_error
from service.jobs.store import FINAL, UPLOAD_TOKEN_FIELD, JobStatus, JobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    job_id: str
    status: str
    """What the job's status is after this delivery."""
    audio_seconds: float = 0.0
    inference_seconds: float = 0.0
    owner: str | None = None
    """The API key id that created the job (its limits count the job until it is final)."""


def run_job(
    upload_key: str,
    *,
    receive_count: int,
    store: JobStore,
    s3: S3Client,
    models: Mapping[str, Transcriber],
    logger: Logger,
) -> JobOutcome | None:
    """Process the upload at `upload_key` (already URL-decoded) with the job's model among `models`
    (the default first); None when it belongs to no job."""
    job_id = store.job_id_of(upload_key)
    found = store.read(job_id) if job_id else None
    if job_id is None or found is None:
        logger.warning("upload belongs to no job; ignored", extra={"key": upload_key})
        return None
    status, _ = found
    if status.status in FINAL:
        logger.info("job already final; duplicate delivery acknowledged", extra={"job_id": job_id})
        return JobOutcome(job_id=job_id, status=status.status)
    if upload_key != status.upload_key:
        logger.warning("upload under a key the job did not issue; ignored", extra={"job_id": job_id})
        return JobOutcome(job_id=job_id, status=status.status)
    head = _head(s3, store.settings.input_bucket, status.upload_key)
    if head is None:  # deleted, or its lifecycle expired it while the job waited: no retry brings it back
        message = "the upload is no longer there (deleted, or expired before a worker reached it): create the job again"
        store.advance(job_id, "failed", attempts=receive_count, error={"code": "upload_missing", "message": message})
        logger.info("job failed: upload missing", extra={"job_id": job_id})
        return JobOutcome(job_id=job_id, status="failed", owner=status.owner)
    foreign = _not_from_the_jobs_form(status, head)
    if foreign:  # S3 refuses such uploads (the form's signed fields); the worker refuses them everywhere
        store.advance(job_id, "awaiting_upload", refused_upload_etag=head.get("ETag"))
        logger.warning("upload refused: not made with the job's form", extra={"job_id": job_id, "reason": foreign})
        return JobOutcome(job_id=job_id, status=status.status)
    rejected = _against_the_upload_policy(status, head, store=store)
    if rejected:  # S3 enforces the presigned policy; checked again here for stores that do not (moto)
        store.advance(job_id, "failed", attempts=receive_count, error={"code": "upload_rejected", "message": rejected})
        logger.info("job failed: upload outside its policy", extra={"job_id": job_id})
        return JobOutcome(job_id=job_id, status="failed", owner=status.owner)
    transcriber = models.get(status.model) if status.model else next(iter(models.values()))
    if transcriber is None:  # the deployment stopped serving the job's model after it was created
        message = f"model {status.model} is no longer served here: allowed {', '.join(models)}"
        store.advance(job_id, "failed", attempts=receive_count, error={"code": "model_not_served", "message": message})
        logger.info("job failed: model not served", extra={"job_id": job_id, "model": status.model})
        return JobOutcome(job_id=job_id, status="failed", owner=status.owner)
    store.advance(job_id, "running", attempts=receive_count)
    try:
        done = _transcribe(
            job_id, upload_key, store=store, s3=s3, transcriber=transcriber, parameters=status.parameters
        )
        return dataclasses.replace(done, owner=status.owner)
    except AudioError as exc:
        error = from_inference_error(exc, long_audio_hint="send a shorter recording")
        store.advance(job_id, "failed", error={"code": error.code, "message": error.message})
        logger.info("job failed: unusable audio", extra={"job_id": job_id, "code": error.code})
        return JobOutcome(job_id=job_id, status="failed", owner=status.owner)
    except Exception as exc:
        if receive_count >= store.settings.jobs.max_receives:
            message = (
                f"the job failed on all {receive_count} attempts (last: {type(exc).__name__}); "
                "its upload is kept for inspection"
            )
            store.advance(job_id, "failed", error={"code": "worker_failed", "message": message})
        raise


DEAD_LETTER_CODE = "dead_lettered"
"""The error code of a job whose message exhausted its deliveries without the worker finishing it."""


def settle_dead_letter(upload_key: str, *, s3: S3Client, store: JobStore, logger: Logger) -> JobOutcome | None:
    """Mark failed, with the reason, the job whose message reached the dead-letter queue (what the
    drainer runs for each dead letter); None when the key belongs to no job. A job already final is left
    alone (the worker's last attempt may have failed it); the upload is never touched. An upload the
    worker would refuse anyway (another job's form, or too late) leaves the job waiting for its own."""
    job_id = store.job_id_of(upload_key)
    found = store.read(job_id) if job_id else None
    if job_id is None or found is None:
        logger.warning("dead letter of no job; dropped", extra={"key": upload_key})
        return None
    status, _ = found
    if status.status in FINAL or upload_key != status.upload_key:
        return JobOutcome(job_id=job_id, status=status.status)
    head = _head(s3, store.settings.input_bucket, upload_key)
    if status.status == "awaiting_upload" and head is not None and _not_from_the_jobs_form(status, head):
        return JobOutcome(job_id=job_id, status=status.status)
    deliveries = store.settings.jobs.max_receives
    if status.attempts:
        what = (
            f"the worker started it {status.attempts} time(s) and never finished (killed, timed out or out of memory)"
        )
        if status.attempts < deliveries:
            what += f"; the other {deliveries - status.attempts} deliveries were throttled or failed before it ran"
    else:
        what = "the worker never started it (its invocations were throttled, or failed before the job ran)"
    kept = "its upload is kept for inspection" if head is not None else "its upload is gone"
    message = f"the job's message reached the dead-letter queue after {deliveries} deliveries: {what}; {kept}"
    final = store.advance(job_id, "failed", error={"code": DEAD_LETTER_CODE, "message": message})
    logger.info("dead-lettered job marked failed", extra={"job_id": job_id, "attempts": status.attempts})
    return JobOutcome(job_id=job_id, status=final.status if final else "failed", owner=status.owner)


def _head(s3: S3Client, bucket: str, key: str) -> HeadObjectOutputTypeDef | None:
    """The object's metadata, or None when it is not there."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _not_from_the_jobs_form(status: JobStatus, head: HeadObjectOutputTypeDef) -> str | None:
    """Why the object at the job's key cannot be this job's upload (another job's form, or after its
    form expired), or None. Such an upload never advances the job: its own may still come."""
    token = head.get("Metadata", {}).get(UPLOAD_TOKEN_FIELD.removeprefix("x-amz-meta-"), "")
    if not status.upload_token or not hmac.compare_digest(token.encode(), status.upload_token.encode()):
        return "the upload does not carry this job's token (another job's form, or none)"
    uploaded = head.get("LastModified")
    if status.upload_expires_at and uploaded and uploaded > datetime.fromisoformat(status.upload_expires_at):
        return f"the upload came at {uploaded.isoformat()}, after the form expired at {status.upload_expires_at}"
    return None


def _against_the_upload_policy(status: JobStatus, head: HeadObjectOutputTypeDef, *, store: JobStore) -> str | None:
    """Why the uploaded object breaks the job's presigned policy (size, content type), or None."""
    limit = status.size_bytes or store.settings.jobs.max_upload_bytes
    if head["ContentLength"] > limit:
        return f"the upload has {head['ContentLength']:,} bytes; the job allows {limit:,}"
    if head.get("ContentType", "").lower() != status.content_type:
        return f"the upload is {head.get('ContentType')!r}; the job was created for {status.content_type!r}"
    return None


def _transcribe(
    job_id: str,
    upload_key: str,
    *,
    store: JobStore,
    s3: S3Client,
    transcriber: Transcriber,
    parameters: dict[str, object],
) -> JobOutcome:
    settings = store.settings
    with tempfile.TemporaryDirectory(prefix=f"job-{job_id}-") as scratch:
        local = Path(scratch) / "input"
        s3.download_file(settings.input_bucket, upload_key, str(local))  # to /tmp, not into memory
        started = time.perf_counter()
        # Streamed from the file, maps in the same scratch folder: memory stays flat for hours of audio.
        # An AudioError (at the header or part way through) fails the job at once, in the caller.
        transcription = transcriber.transcribe_file(
            local,
            dataclasses.replace(transcriber.defaults, **parameters),
            max_duration_s=settings.jobs.max_duration_s,
            max_decoded_samples=settings.jobs.max_decoded_samples,
            scratch_dir=scratch,
        )
        inference_seconds = time.perf_counter() - started
    document = transcription.to_dict()
    json_key, midi_key = store.result_keys(job_id)
    s3.put_object(
        Bucket=settings.output_bucket, Key=json_key, Body=json.dumps(document).encode(), ContentType="application/json"
    )
    result = {"json_key": json_key, **transcription.summary(), "duration_s": document["audio"]["duration_s"]}
    if transcriber.spec.produces_midi:
        s3.put_object(
            Bucket=settings.output_bucket, Key=midi_key, Body=transcription.to_midi(), ContentType="audio/midi"
        )
        result["midi_key"] = midi_key
    final = store.advance(job_id, "succeeded", result=result, error=None)
    return JobOutcome(
        job_id=job_id,
        status=final.status if final else "succeeded",
        audio_seconds=transcription.audio.duration_s,
        inference_seconds=inference_seconds,
    )

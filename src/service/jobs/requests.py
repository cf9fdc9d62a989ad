"""The API side of jobs: POST /jobs (validate, write the status, presign the upload) and GET /jobs/{id}.

Everything a client can get wrong is refused when the job is created, parameters included, so a
job never fails later for something that could have been said at once.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from contract.settings import JobLimits
from contract.validation import shown
from inference.formats import FORMATS
from service.http import errors
from service.http.json_body import parse_json_body
from service.http.parameters import MODEL_FIELD, RAW_AUDIO_TYPES, model_and_parameters, sanitize_filename
from service.http.responses import download_stem
from service.jobs.store import UPLOAD_TOKEN_FIELD, JobStatus, JobStore, is_job_id, new_job_id, now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FIELDS = ("filename", "content_type", "size_bytes", MODEL_FIELD, "parameters")
VIDEO_CONTAINER_TYPES = tuple(t for f in FORMATS for t in f.media_types if not t.startswith("audio/"))
"""video/mp4 and video/webm: what browsers label .mp4 and .webm files (and Chrome's recordings) with; the
audio inside is decoded as from an M4A or a WebM. A job's upload goes straight to S3, so any binary type
arrives whole (a raw /predict body must be audio/*: API Gateway passes only those as binary)."""
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
"""type/subtype, each of at most 127 characters (RFC 6838)."""


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    filename: str | None
    content_type: str
    size_bytes: int | None
    parameters: dict[str, Any]
    model: str | None = None
    """The served model the job runs; None: the default model."""


def parse_job_request(*, content_type: str, body: bytes, models: Mapping[str, Any], limits: JobLimits) -> JobRequest:
    """`models` maps each served model's name to its loaded Transcriber, the default first."""
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise errors.unsupported_media_type("POST /jobs takes a JSON object: send Content-Type: application/json")
    document = parse_json_body(body)
    if not isinstance(document, dict):
        raise errors.bad_request(f"the body must be a JSON object with {', '.join(FIELDS)}")
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise errors.bad_request(f"unknown field(s) {unknown}: allowed {', '.join(FIELDS)}")
    filename = document.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise errors.bad_request(
            f"filename must be a string (got a JSON {_json_type(filename)}): the name of the file you will "
            "upload, e.g. 'concert.mp3'"
        )
    if not isinstance(filename, str) or not filename.strip():
        raise errors.bad_request("filename is required: the name of the file you will upload, e.g. 'concert.mp3'")
    if any(unicodedata.category(ch) == "Cc" for ch in filename):
        raise errors.bad_request("the file name contains control characters (such as NUL): send a plain name")
    media_type = document.get("content_type")
    if media_type is not None and not isinstance(media_type, str):
        raise errors.bad_request(
            f"content_type must be a string (got a JSON {_json_type(media_type)}), e.g. 'audio/mpeg'"
        )
    if not isinstance(media_type, str) or not media_type:
        raise errors.bad_request("content_type is required, e.g. 'audio/mpeg'")
    # Parameters are dropped: `audio/webm;codecs=opus` (what MediaRecorder reports) is audio/webm, the
    # container the worker sniffs anyway; the upload form then fixes the bare type.
    media_type = media_type.split(";", 1)[0].strip().lower()
    accepted = media_type.startswith("audio/") or media_type in (*RAW_AUDIO_TYPES, *VIDEO_CONTAINER_TYPES)
    if not _MEDIA_TYPE.match(media_type):
        raise errors.unsupported_media_type(
            f"content_type {shown(media_type)} is not a media type: type/subtype (at most 127 characters each), "
            "e.g. 'audio/mpeg'"
        )
    if not accepted:
        raise errors.unsupported_media_type(
            f"content_type {shown(media_type)} is not accepted: an audio/* type, {', '.join(VIDEO_CONTAINER_TYPES)} "
            "or application/octet-stream"
        )
    size = document.get("size_bytes")
    if isinstance(size, float) and size.is_integer() and size <= limits.max_upload_bytes:
        size = int(size)  # JSON has one number type: 861.0 is the integer 861
    elif isinstance(size, float) and size > limits.max_upload_bytes:
        raise errors.payload_too_large(
            f"size_bytes={size:g} is over the {limits.max_upload_bytes:,} bytes a job may upload"
        )
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise errors.bad_request(f"size_bytes={shown(size)} is invalid: allowed a positive integer")
    if size is not None and size > limits.max_upload_bytes:
        raise errors.payload_too_large(
            f"size_bytes={size:,} is over the {limits.max_upload_bytes:,} bytes a job may upload"
        )
    parameters = document.get("parameters", {})  # absent is {}; [], "", 0 and null are not objects
    if not isinstance(parameters, dict):
        raise errors.bad_request("parameters must be a JSON object of parameter names and values")
    supplied = {name: [value if isinstance(value, str) else json.dumps(value)] for name, value in parameters.items()}
    if MODEL_FIELD in supplied:
        raise errors.bad_request(f"name the model with the top-level field {MODEL_FIELD!r}, not among parameters")
    model = document.get(MODEL_FIELD)
    if model is not None and not isinstance(model, str):
        raise errors.invalid_parameter(f"{MODEL_FIELD} must be a model's name: allowed {', '.join(models)}")
    if model is not None:
        supplied[MODEL_FIELD] = [model]
    chosen, validated = model_and_parameters(models, supplied)
    return JobRequest(
        filename=sanitize_filename(filename),
        content_type=media_type,
        size_bytes=size,
        model=chosen,
        parameters={name: getattr(validated, name) for name in parameters},
    )


def create_job(
    request: JobRequest,
    *,
    limits: JobLimits,
    store: JobStore,
    s3: S3Client,
    status_url: str,
    owner: str | None = None,
    admit: Callable[[str | None, str], None] | None = None,
) -> dict[str, Any]:
    """Count the job against its key's limits (`admit(owner, job_id)` raises 429 past one), write
    `awaiting_upload` (owned by the caller's API key id, when there is one), then presign the upload
    whose key and limits the server fixes."""
    job_id = new_job_id()
    if admit is not None:
        admit(owner, job_id)
    created = now()
    token = secrets.token_urlsafe(24)
    expires = datetime.now(UTC) + timedelta(seconds=limits.upload_url_expiry_s)
    expires_at = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
    status = JobStatus(
        job_id=job_id,
        status="awaiting_upload",
        created_at=created,
        updated_at=created,
        upload_key=store.upload_key(job_id, request.filename),
        filename=request.filename,
        content_type=request.content_type,
        size_bytes=request.size_bytes,
        model=request.model,
        parameters=request.parameters,
        upload_token=token,
        upload_expires_at=expires_at,
        owner=owner,
    )
    store.create(status)
    settings = store.settings
    upload = s3.generate_presigned_post(
        Bucket=settings.input_bucket,
        Key=status.upload_key,
        Fields={"Content-Type": request.content_type, UPLOAD_TOKEN_FIELD: token},
        Conditions=[
            {"Content-Type": request.content_type},
            {UPLOAD_TOKEN_FIELD: token},
            ["content-length-range", 1, request.size_bytes or limits.max_upload_bytes],
        ],
        ExpiresIn=limits.upload_url_expiry_s,
    )
    return {
        "job_id": job_id,
        "status": status.status,
        "upload": {
            "url": upload["url"],
            "fields": upload["fields"],
            "expires_at": expires_at,
        },
        "status_url": status_url.format(job_id=job_id),
    }


def describe_job(
    job_id: str,
    *,
    store: JobStore,
    download_url: Any,
    caller: str | None = None,
    queue_depth: Callable[[], tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The job as a client sees it; `download_url(key, name)` presigns a result. Another API key's job
    is as unknown as one that does not exist (404: its existence is not confirmed either). A queued
    job shows its place: `queue_depth()` is (jobs waiting, jobs running) in the queue, and the waiting
    ones are the most that can be ahead of it (SQS hands them out about in order, each key holding at
    most its `max_jobs_in_flight`)."""
    found = store.read(job_id) if is_job_id(job_id) else None
    if found is not None and found[0].owner is not None and found[0].owner != caller:
        found = None
    if found is None:
        raise errors.not_found(f"no job {shown(job_id)}: job ids are what POST /jobs returned")
    status, _ = found
    state = status.status
    if state == "awaiting_upload":
        if store.upload_arrived(status):
            state = "queued"  # the upload is in; the worker has not picked it up yet
        elif status.upload_expires_at and datetime.now(UTC) > datetime.fromisoformat(status.upload_expires_at):
            state = "expired"  # the form no longer works: this job will never run
    view: dict[str, Any] = {
        "job_id": job_id,
        "status": state,
        "created_at": status.created_at,
        "updated_at": status.updated_at,
    }
    if state == "queued" and queue_depth is not None:
        waiting, running = queue_depth()
        view["queue"] = {"jobs_ahead_at_most": max(0, waiting - 1), "jobs_waiting": waiting, "jobs_running": running}
    if status.error:
        view["error"] = status.error
    if status.model:
        view["model"] = status.model
    if status.status == "succeeded" and status.result:
        stem = download_stem(status.filename) or job_id
        stored = status.result
        # The keys signed come from the job id, never from the status document: whatever wrote it (a
        # worker decoding hostile media) cannot make the API sign another job's or a key's objects.
        json_key, midi_key = store.result_keys(job_id)
        view["result"] = {
            "json_url": download_url(json_key, f"{stem}.json"),
            **({"midi_url": download_url(midi_key, f"{stem}.mid")} if stored.get("midi_key") else {}),
            **{k: v for k, v in stored.items() if k not in ("json_key", "midi_key")},
        }
    return view


def status_url_template(request_context: Mapping[str, Any], path: str) -> str:
    """The absolute URL of GET /jobs/{job_id} as this request reached the API (stage prefix included).

    Built from what API Gateway itself puts in the request context (its domain name and the path
    with the stage or base path), never from Host or X-Forwarded-Proto, which a client sets at will.
    API Gateway serves HTTPS only; plain HTTP is for a loopback address (`make serve`). Without a
    usable domain name the URL is relative to the API.
    """
    full_path = str(request_context.get("path") or path)
    prefix = full_path[: -len(path)] if full_path.endswith(path) else ""
    if not _SAFE_PATH.match(prefix):
        prefix = ""
    domain = str(request_context.get("domainName") or "")
    if not _DOMAIN.match(domain):
        return f"{prefix}/jobs/{{job_id}}"
    host = domain.rsplit(":", 1)[0] if not domain.startswith("[") else domain.split("]", 1)[0] + "]"
    scheme = "http" if host in _LOOPBACK else "https"
    return f"{scheme}://{domain}{prefix}/jobs/{{job_id}}"


_DOMAIN = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[::1\])(?::[0-9]{1,5})?$"
)
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
_SAFE_PATH = re.compile(r"^(?:/[A-Za-z0-9._~-]+)*$")


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, as a client wrote it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "value"

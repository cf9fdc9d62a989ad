"""A job belongs to the API key that created it: the handler records the caller's apiKeyId (from API
Gateway's request context, never the key) in the status document, and GET /jobs/{id} by another key is
a 404 in the error shape, exactly as for a job that does not exist."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from emulation.local_server import OUTPUT_BUCKET, LocalContext

EVENTS = Path(__file__).resolve().parents[1] / "events"
Entry = tuple[ModuleType, Any]


def event(method: str, path: str, resource: str, key_id: str | None, body: Any = None) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it, from the committed /health event."""
    base: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / "health.json").read_text()))
    base.update(path=path, resource=resource, httpMethod=method, isBase64Encoded=False)
    base["body"] = json.dumps(body) if body is not None else None
    headers = {**base["headers"], "Content-Type": "application/json"}
    base["headers"] = headers
    base["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    if "{job_id}" in resource:
        base["pathParameters"] = {"job_id": path.rsplit("/", 1)[1]}
    context = base["requestContext"]
    context.update(path=f"/v1{path}", resourcePath=resource, httpMethod=method, requestId=f"owner-{method}-{key_id}")
    context["identity"] = {**context["identity"], "apiKeyId": key_id, "apiKey": "never-read" if key_id else None}
    return base


def call(entry: Entry, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    module, _ = entry
    answer = module.handler(request, LocalContext(aws_request_id=request["requestContext"]["requestId"]))
    return int(answer["statusCode"]), json.loads(answer["body"])


def create(entry: Entry, key_id: str | None) -> str:
    body = {"filename": "concert.wav", "content_type": "audio/wav"}
    status, created = call(entry, event("POST", "/jobs", "/jobs", key_id, body))
    assert status == 201, created
    return str(created["job_id"])


def test_another_keys_job_is_404_and_the_owners_is_200(lambda_entry: Entry) -> None:
    job_id = create(lambda_entry, "key-id-alice")
    path = f"/jobs/{job_id}"
    status, own = call(lambda_entry, event("GET", path, "/jobs/{job_id}", "key-id-alice"))
    assert (status, own["job_id"], own["status"]) == (200, job_id, "awaiting_upload")
    assert "owner" not in own, "key ids are not handed out"

    status, other = call(lambda_entry, event("GET", path, "/jobs/{job_id}", "key-id-mallory"))
    assert status == 404
    assert other["error"]["code"] == "not_found" and set(other["error"]) == {"code", "message", "request_id"}
    _, missing = call(lambda_entry, event("GET", "/jobs/" + "0" * len(job_id), "/jobs/{job_id}", "key-id-mallory"))
    assert other["error"]["message"].replace(job_id, "<id>") == missing["error"]["message"].replace(
        "0" * len(job_id), "<id>"
    ), "another key's job reads exactly like one that does not exist"


def test_the_status_document_records_the_key_id_never_the_key(lambda_entry: Entry) -> None:
    job_id = create(lambda_entry, "key-id-alice")
    _, s3 = lambda_entry
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=f"results/jobs/{job_id}/")["Contents"]
    (status_key,) = [o["Key"] for o in listed if o["Key"].endswith("status.json")]
    document = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=status_key)["Body"].read())
    assert document["owner"] == "key-id-alice"
    assert "never-read" not in json.dumps(document)


def test_without_keys_jobs_stay_readable_as_before(lambda_entry: Entry) -> None:
    """The local server asks for no key: a job created without one is anyone's, as there."""
    job_id = create(lambda_entry, None)
    status, view = call(lambda_entry, event("GET", f"/jobs/{job_id}", "/jobs/{job_id}", None))
    assert (status, view["job_id"]) == (200, job_id)

"""Each function's S3 calls, recorded while it does its real work, are allowed by its role as synthesized.

moto does not evaluate IAM, so a grant narrowed too far (or a new call nobody granted) would pass every
other tier and fail only in AWS. Here the API function creates a job and describes it (its presigned
links and the presigned upload form are calls made with its credentials), the worker runs the job, and
the dead-letter drainer settles another; every object and list call each made is checked against the
statements of its role in `inference-dev` (actions, resource patterns, the `s3:prefix` condition), and
the narrowing is shown to matter: the worker may not write a key's consumer document.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from emulation import gateway
from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, LocalContext
from service.jobs.store import JobStore
from tests.infra.test_stack_properties import grants_of
from tests.service.conftest import Emulated
from tests.service.test_jobs_pipeline import CLIP, upload, wait_for

pytestmark = pytest.mark.model

Call = tuple[str, str, str | None, str | None]
"""(IAM action, bucket, key, list prefix)."""

ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
}
"""The S3 operations the functions may call, as IAM authorizes them; any other one fails the test."""
PRESIGNED_POST = ("CreateBucket",)
"""botocore builds a presigned POST's URL from CreateBucket's model: no call; the upload it signs is a
PutObject, recorded as one by the test."""
BUCKETS = {INPUT_BUCKET: "input", OUTPUT_BUCKET: "output"}
BUCKET_ARN = re.compile(r"^\$\{aws_s3_bucket\.(?P<bucket>input|output)-bucket_[0-9A-F]+\.arn\}(?:/(?P<key>.*))?$")


@contextlib.contextmanager
def recorded(client: Any) -> Iterator[list[Call]]:
    """Every S3 operation `client` builds (presigned URLs included: they are signed with its credentials)."""
    calls: list[Call] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in PRESIGNED_POST:
            return
        action = ACTIONS.get(model.name, f"unmapped:{model.name}")
        calls.append((action, BUCKETS.get(params.get("Bucket", ""), "other"), params.get("Key"), params.get("Prefix")))

    client.meta.events.register("before-parameter-build.s3", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.s3", record)


def allowed(statements: list[dict[str, Any]], call: Call) -> bool:
    action, bucket, key, prefix = call
    for statement in statements:
        if statement["effect"] != "Allow" or action not in statement["actions"]:
            continue
        for resource in statement["resources"]:
            arn = BUCKET_ARN.match(resource)
            if arn is None or arn["bucket"] != bucket:
                continue
            if action == "s3:ListBucket" and arn["key"] is None:
                conditions = [c for c in statement.get("condition", []) if c["variable"] == "s3:prefix"]
                if all(any(fnmatch.fnmatchcase(prefix or "", v) for v in c["values"]) for c in conditions):
                    return True
            elif key is not None and arn["key"] is not None and fnmatch.fnmatchcase(key, arn["key"]):
                return True
    return False


def refused(stacks: dict[str, Any], function_id: str, calls: list[Call]) -> list[Call]:
    statements = [s for docs in grants_of(stacks["inference-dev"], function_id).values() for s in docs]
    return [call for call in dict.fromkeys(calls) if not allowed(statements, call)]


def api_call(emulated: Emulated, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    """A request as API Gateway hands it over with a consumer's key (so jobs are owned and charged)."""
    request = gateway.HttpRequest(
        method=method, path=path, headers=[("Content-Type", "application/json"), ("Host", "x")], query=[], body=body
    )
    route = gateway.route_for(method, path)
    assert route is not None
    request_id = gateway.new_request_id()
    event = gateway.to_proxy_event(request, route, request_id, api_key="k" * 30, api_key_id="grantskey1")
    result: dict[str, Any] = emulated.handler.handler(event, LocalContext(aws_request_id=request_id))
    return result


def dead_letter_event(key: str) -> dict[str, Any]:
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key}}}]})
    record = {"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
    return {"Records": [{**record, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}


def test_the_api_the_worker_and_the_drainer_call_s3_only_as_their_roles_allow(
    emulated: Emulated, stacks: dict[str, Any]
) -> None:
    store = JobStore(emulated.s3, emulated.worker.settings)
    request = {"filename": "take.wav", "content_type": "audio/wav", "size_bytes": len(CLIP)}
    with recorded(emulated.handler.s3) as api:
        created = api_call(emulated, "POST", "/jobs", json.dumps(request).encode())
        assert created["statusCode"] == 201, created["body"]
    job = json.loads(created["body"])
    status = store.read(job["job_id"])[0]  # type: ignore[index]
    api.append(("s3:PutObject", "input", status.upload_key, None))  # the presigned form's upload, as the API
    assert upload(job, CLIP).status_code == 204

    with recorded(emulated.worker.s3) as worker:
        emulated.worker.handler(dead_letter_event(status.upload_key), LocalContext(aws_request_id="w1"))
    assert wait_for(store, job["job_id"], ("succeeded",)).status == "succeeded"
    with recorded(emulated.handler.s3) as described:
        shown = api_call(emulated, "GET", f"/jobs/{job['job_id']}")
        assert shown["statusCode"] == 200 and "midi_url" in json.loads(shown["body"])["result"], shown["body"]

    other = api_call(emulated, "POST", "/jobs", json.dumps(request).encode())
    other_key = store.read(json.loads(other["body"])["job_id"])[0].upload_key  # type: ignore[index]
    with recorded(emulated.dead_letters.s3) as drainer:
        emulated.dead_letters.handler(dead_letter_event(other_key), LocalContext(aws_request_id="d1"))
    assert store.read(json.loads(other["body"])["job_id"])[0].status == "failed"  # type: ignore[index]

    api_calls = api + described
    assert any(c[0] == "s3:PutObject" and c[2] and c[2].endswith("status.json") for c in api_calls)
    assert any(c[0] == "s3:PutObject" and c[2] and c[2].endswith("result.mid") for c in worker), worker
    assert any(c[0] == "s3:PutObject" and c[2] and "/_keys/" in c[2] for c in worker), "the worker charged"
    assert any(c[0] == "s3:PutObject" and c[2] and c[2].endswith("status.json") for c in drainer), drainer
    assert refused(stacks, "inference-function", api_calls) == []
    assert refused(stacks, "worker-function", worker) == []
    assert refused(stacks, "dead-letter-function", drainer) == []


def test_the_check_refuses_what_a_role_was_not_granted(stacks: dict[str, Any]) -> None:
    """The worker may not write a key's consumer document (its limits; `make keys` writes it), nor the
    API's own results; the drainer writes no result; nobody lists outside its prefix."""
    consumer_document = ("s3:PutObject", "output", "results/jobs/_consumers/abc123", None)
    assert refused(stacks, "worker-function", [consumer_document]) == [consumer_document]
    predict_result = ("s3:PutObject", "output", "results/predict/r1/result.json", None)
    assert refused(stacks, "worker-function", [predict_result]) == [predict_result]
    result = ("s3:PutObject", "output", "results/jobs/0123/result.json", None)
    assert refused(stacks, "dead-letter-function", [result]) == [result]
    listing = ("s3:ListBucket", "output", None, "results/predict/")
    assert refused(stacks, "worker-function", [listing]) == [listing]
    assert refused(stacks, "worker-function", [("s3:PutObject", "output", "results/jobs/0123/result.mid", None)]) == []

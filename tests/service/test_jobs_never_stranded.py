"""No job is stranded: every delivery that does not finish (throttled, killed, crashed) ends with the job
`failed` and the reason, through the dead-letter drainer, and a mapping bounded by the worker's
concurrency is never throttled at all. The pipeline runs against moto as `make serve` runs it: the
queue's poller plays Lambda's event source mapping (its maximum concurrency and the worker's reserved
concurrency), a second poller the drainer's mapping on the dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.environments import DEV
from emulation.local_jobs import QueuePoller
from emulation.local_server import INPUT_BUCKET, LocalContext, local_settings
from service.jobs.messages import uploaded_keys
from service.jobs.requests import describe_job
from service.jobs.runner import DEAD_LETTER_CODE
from service.jobs.store import JobStore
from tests.service.conftest import QUEUE_VISIBILITY_S, Emulated
from tests.service.test_jobs_pipeline import CLIP, drain, new_job, objects, queue_depths, upload, wait_for

Start = Callable[..., QueuePoller]
DEAD_LETTER_WAIT_S = (QUEUE_VISIBILITY_S + 3) * (local_settings().jobs.max_receives + 2)
"""Every delivery's visibility timeout, and the drainer's turn, with room for a busy machine."""


@pytest.fixture
def store(emulated: Emulated) -> JobStore:
    return JobStore(emulated.s3, emulated.worker.settings)


@pytest.fixture(scope="module")
def drainer(emulated: Emulated) -> Any:
    """`service.dead_letters` imported as Lambda imports it (settings from the environment), against moto."""
    return emulated.dead_letters


@pytest.fixture
def start(emulated: Emulated, drainer: Any) -> Iterator[Start]:
    """Start the worker's mapping (with `pollers` and `reserved`, or a stand-in `handler`) and the drainer's."""
    started: list[QueuePoller] = []

    def run(*, handler: Any = None, pollers: int = 1, reserved: int | None = None) -> QueuePoller:
        worker = QueuePoller(
            emulated.queues,
            handler or emulated.worker.handler,
            lambda rid: LocalContext(aws_request_id=rid),
            sqs=emulated.sqs,
            pollers=pollers,
            reserved=reserved,
        )
        dead_letters = QueuePoller(
            emulated.queues.dead_letters(),
            drainer.handler,
            lambda rid: LocalContext(aws_request_id=rid, function_name="drainer"),
            sqs=emulated.sqs,
            batch_size=10,
        )
        started.extend((worker, dead_letters))
        worker.start()
        dead_letters.start()
        return worker

    yield run
    for poller in started:
        poller.stop()


def settled(emulated: Emulated, timeout: float) -> None:
    """Until both queues are empty (each message taken by the worker or the drainer)."""
    deadline = time.monotonic() + timeout
    while queue_depths(emulated) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert queue_depths(emulated) == (0, 0), "nothing left in either queue"


def test_throttled_deliveries_reach_the_dead_letter_queue_and_the_drainer_fails_the_job_with_the_reason(
    emulated: Emulated, store: JobStore, start: Start
) -> None:
    """The stranding this issue found: a worker that can take none of the mapping's invocations (its
    reserved concurrency spent) never runs; every receive counts; the message is dead-lettered."""
    drain(emulated)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    worker = start(pollers=2, reserved=0)
    done = wait_for(store, created["job_id"], ("succeeded", "failed"), timeout=DEAD_LETTER_WAIT_S)
    assert worker.invocations == 0 and worker.throttled >= local_settings().jobs.max_receives
    assert done.status == "failed" and done.error and done.error["code"] == DEAD_LETTER_CODE
    assert "never started it" in done.error["message"] and "throttled" in done.error["message"]
    assert "upload is kept" in done.error["message"]
    view = describe_job(created["job_id"], store=store, download_url=lambda key, name: key)
    assert view["status"] == "failed" and view["error"] == done.error
    settled(emulated, DEAD_LETTER_WAIT_S)
    assert list(objects(emulated, INPUT_BUCKET, created["job_id"])) == [done.upload_key], "the input is kept"


def test_a_worker_killed_mid_job_on_every_delivery_leaves_no_job_running(
    emulated: Emulated, store: JobStore, start: Start
) -> None:
    """The worker marks the job running and dies (timeout, out of memory) before it can say anything:
    the last attempt's own failure handling never runs, so only the drainer can settle the job."""

    def killed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            for key in uploaded_keys(record["body"]):
                job_id = store.job_id_of(key)
                assert job_id is not None
                store.advance(job_id, "running", attempts=int(record["attributes"]["ApproximateReceiveCount"]))
        raise SystemExit("the execution environment was killed")  # not an Exception: no handler catches it

    def invocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return killed(event, context)
        except SystemExit as exc:  # what Lambda reports: the invocation failed, nothing acknowledged
            raise RuntimeError(str(exc)) from None

    drain(emulated)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    start(handler=invocation)
    max_receives = local_settings().jobs.max_receives
    done = wait_for(store, created["job_id"], ("succeeded", "failed"), timeout=DEAD_LETTER_WAIT_S)
    assert done.status == "failed" and done.error and done.error["code"] == DEAD_LETTER_CODE
    assert done.attempts == max_receives
    assert f"started it {max_receives} time(s) and never finished" in done.error["message"]
    settled(emulated, DEAD_LETTER_WAIT_S)


def test_a_mapping_bounded_by_the_workers_concurrency_is_never_throttled_and_a_wider_one_strands_nothing(
    emulated: Emulated, store: JobStore, start: Start
) -> None:
    """At the environment's settings (maximum concurrency <= reserved) every job succeeds, none throttled.
    Wider than the worker (3 pollers, 1 reserved), throttles happen, and still every job ends succeeded or
    failed with a reason: none is left queued."""
    dev = DEV.jobs
    drain(emulated)
    bounded = [new_job(emulated, store) for _ in range(3)]
    for created in bounded:
        assert upload(created, CLIP).status_code == 204
    worker = start(pollers=dev.queue_max_concurrency, reserved=dev.worker_reserved_concurrency)
    for created in bounded:
        assert wait_for(store, created["job_id"], ("succeeded", "failed"), timeout=60).status == "succeeded"
    assert worker.throttled == 0
    settled(emulated, 30)
    worker.stop()

    wide = [new_job(emulated, store) for _ in range(4)]
    for created in wide:
        assert upload(created, CLIP).status_code == 204
    worker = start(pollers=3, reserved=1)
    ends = [wait_for(store, c["job_id"], ("succeeded", "failed"), timeout=DEAD_LETTER_WAIT_S * 2) for c in wide]
    assert all(e.status == "succeeded" or (e.error and e.error["code"] == DEAD_LETTER_CODE) for e in ends), ends
    settled(emulated, DEAD_LETTER_WAIT_S)


def test_a_message_delivered_twice_to_the_drainer_changes_nothing(
    emulated: Emulated, store: JobStore, drainer: Any
) -> None:
    """The drainer's deliveries are at least once too, and a dead letter of a job that succeeded (its
    final attempt finished after the message's last timeout) leaves the job as it is."""
    created = new_job(emulated, store)
    job_id = created["job_id"]
    store.advance(job_id, "running", attempts=3)
    key = store.read(job_id)[0].upload_key  # type: ignore[index]
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key}}}]})
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {}}]}
    event["Records"][0].update({"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"})
    assert drainer.handler(event, LocalContext(aws_request_id="a")) == {"batchItemFailures": []}
    first = store.read(job_id)[0]  # type: ignore[index]
    assert first.status == "failed" and first.error and first.error["code"] == DEAD_LETTER_CODE
    assert "its upload is gone" in first.error["message"]  # this test never uploaded
    assert drainer.handler(event, LocalContext(aws_request_id="b")) == {"batchItemFailures": []}
    assert store.read(job_id)[0] == first  # type: ignore[index]

    other = new_job(emulated, store)
    store.advance(other["job_id"], "succeeded", result={"json_key": "k", "duration_s": 1.0})
    other_key = store.read(other["job_id"])[0].upload_key  # type: ignore[index]
    event["Records"][0]["body"] = body.replace(key, other_key)
    drainer.handler(event, LocalContext(aws_request_id="c"))
    assert store.read(other["job_id"])[0].status == "succeeded"  # type: ignore[index]


def test_an_upload_gone_before_the_worker_reached_it_fails_the_job_at_once(
    emulated: Emulated, store: JobStore, start: Start
) -> None:
    """Its lifecycle (storage.input_expiry_days) deleted it while the job waited: no retry can help."""
    drain(emulated)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    emulated.s3.delete_object(Bucket=INPUT_BUCKET, Key=created["upload"]["fields"]["key"])
    start()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"))
    assert done.status == "failed" and done.error and done.error["code"] == "upload_missing"
    assert done.attempts == 1

"""The jobs pipeline in this process against moto: S3 -> SQS -> the worker handler (through the same
event-source poller `make serve` runs), and each fault with what must not be lost or duplicated."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from emulation.local_jobs import QueuePoller
from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, LocalContext
from inference.testing import signals
from service.jobs.requests import JobRequest, create_job, describe_job
from service.jobs.store import JobStatus, JobStore
from tests.service.conftest import QUEUE_VISIBILITY_S, Emulated
from tests.support.audio import wav_bytes

CLIP = wav_bytes(signals.render(signals.chords(4, 3.0), 22050, 3.0, seed=4), 22050)


@pytest.fixture
def store(emulated: Emulated) -> JobStore:
    return JobStore(emulated.s3, emulated.worker.settings)


@pytest.fixture
def poller(emulated: Emulated) -> Iterator[Callable[[], QueuePoller]]:
    started: list[QueuePoller] = []

    def start() -> QueuePoller:
        poller = QueuePoller(
            emulated.queues, emulated.worker.handler, lambda rid: LocalContext(aws_request_id=rid), sqs=emulated.sqs
        )
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def new_job(
    emulated: Emulated,
    store: JobStore,
    *,
    content_type: str = "audio/wav",
    size: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request = JobRequest(
        filename="take one.wav", content_type=content_type, size_bytes=size, parameters=parameters or {}
    )
    return create_job(request, limits=store.settings.jobs, store=store, s3=emulated.s3, status_url="/jobs/{job_id}")


def upload(created: dict[str, Any], data: bytes, content_type: str = "audio/wav") -> requests.Response:
    form = created["upload"]
    return requests.post(form["url"], data=form["fields"], files={"file": ("x", data, content_type)}, timeout=30)


def wait_for(store: JobStore, job_id: str, states: tuple[str, ...], timeout: float = 30) -> JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = store.read(job_id)
        if found and found[0].status in states:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {states}: {store.read(job_id)}")


def queue_depths(emulated: Emulated) -> tuple[int, int]:
    """Messages (visible + in flight) in the queue and in the dead-letter queue."""

    def depth(url: str) -> int:
        attributes = emulated.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    return depth(emulated.queues.url), depth(emulated.queues.dead_letter_url)


def drain(emulated: Emulated) -> None:
    """Remove S3's test event and anything a previous test left, so each test sees its own messages."""
    for url in (emulated.queues.url, emulated.queues.dead_letter_url):
        while messages := emulated.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                emulated.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def objects(emulated: Emulated, bucket: str, job_id: str) -> dict[str, str]:
    listed = emulated.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] + o["LastModified"].isoformat() for o in listed if job_id in o["Key"]}


def test_an_upload_runs_once_and_a_repeated_message_changes_nothing(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    drain(emulated)
    created = new_job(emulated, store, parameters={"onset_threshold": 0.55})
    assert upload(created, CLIP).status_code == 204
    poller()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"))
    assert done.status == "succeeded" and done.attempts == 1 and done.result and done.result["notes_count"] > 0
    result = json.loads(emulated.s3.get_object(Bucket=OUTPUT_BUCKET, Key=done.result["json_key"])["Body"].read())
    assert result["parameters"]["onset_threshold"] == 0.55
    before = objects(emulated, OUTPUT_BUCKET, created["job_id"])

    # The same notification again, as SQS's at-least-once delivery may hand it over.
    record = {
        "eventName": "ObjectCreated:Post",
        "s3": {"bucket": {"name": INPUT_BUCKET}, "object": {"key": done.upload_key.replace(" ", "+")}},
    }
    emulated.sqs.send_message(QueueUrl=emulated.queues.url, MessageBody=json.dumps({"Records": [record]}))
    deadline = time.monotonic() + 15
    while queue_depths(emulated) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_depths(emulated) == (0, 0), "the duplicate was acknowledged"
    assert objects(emulated, OUTPUT_BUCKET, created["job_id"]) == before, "nothing rewritten"
    assert store.read(created["job_id"])[0] == done  # type: ignore[index]


def test_a_worker_killed_mid_job_leaves_the_message_to_come_back_and_the_job_completes_once(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    drain(emulated)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    # A worker receives the message, marks the job running, and dies before finishing: no delete.
    deadline = time.monotonic() + 10
    message = None
    while message is None and time.monotonic() < deadline:
        for candidate in emulated.sqs.receive_message(QueueUrl=emulated.queues.url, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            if created["job_id"] in candidate["Body"]:
                message = candidate
    assert message is not None
    store.advance(created["job_id"], "running", attempts=1)
    poller()  # the message is invisible until the timeout, then the worker gets it again
    done = wait_for(store, created["job_id"], ("succeeded", "failed"), timeout=QUEUE_VISIBILITY_S + 30)
    assert done.status == "succeeded" and done.attempts == 2
    assert len(objects(emulated, OUTPUT_BUCKET, created["job_id"])) == 3  # status, result.json, result.mid


def test_undecodable_audio_fails_the_job_at_once_and_keeps_the_input(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    drain(emulated)
    created = new_job(emulated, store, content_type="audio/mpeg")
    assert upload(created, b"not audio at all " * 100, "audio/mpeg").status_code == 204
    poller()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"))
    assert done.status == "failed" and done.attempts == 1
    assert done.error and done.error["code"] in ("unsupported_audio_format", "undecodable_audio")
    time.sleep(QUEUE_VISIBILITY_S + 1)
    assert queue_depths(emulated) == (0, 0), "not retried, not dead-lettered"
    assert store.read(created["job_id"])[0].attempts == 1  # type: ignore[index]
    assert list(objects(emulated, INPUT_BUCKET, created["job_id"])) == [done.upload_key]


def test_a_job_that_always_crashes_ends_in_the_dead_letter_queue_failed_with_its_input_kept(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller], monkeypatch: pytest.MonkeyPatch
) -> None:
    drain(emulated)

    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(emulated.worker.models["basic-pitch"], "transcribe_file", crash)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    poller()
    max_receives = emulated.worker.settings.jobs.max_receives
    done = wait_for(store, created["job_id"], ("failed",), timeout=(QUEUE_VISIBILITY_S + 3) * (max_receives + 1))
    assert done.attempts == max_receives and done.error and done.error["code"] == "worker_failed"
    assert "kept for inspection" in done.error["message"]
    deadline = time.monotonic() + 3 * QUEUE_VISIBILITY_S + 10
    while queue_depths(emulated) != (0, 1) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert queue_depths(emulated) == (0, 1), "the message waits in the dead-letter queue"
    assert list(objects(emulated, INPUT_BUCKET, created["job_id"])) == [done.upload_key]


def test_the_presigned_upload_fixes_key_size_and_content_type(emulated: Emulated, store: JobStore) -> None:
    """What S3 enforces on the upload: its policy, decoded."""
    created = new_job(emulated, store, size=1000)
    fields = created["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": f"uploads/jobs/{created['job_id']}/take one.wav"} in conditions
    assert {"Content-Type": "audio/wav"} in conditions and {"bucket": INPUT_BUCKET} in conditions
    assert ["content-length-range", 1, 1000] in conditions
    assert policy["expiration"][:16] == created["upload"]["expires_at"][:16]
    assert fields["key"] == f"uploads/jobs/{created['job_id']}/take one.wav"


@pytest.mark.parametrize(
    "why, size, data, content_type",
    [
        ("larger than the job said", 1000, b"\0" * 2000, "audio/wav"),
        ("another content type", None, CLIP, "audio/flac"),
    ],
)
def test_an_upload_against_its_policy_never_runs_and_fails_the_job_with_the_input_kept(
    emulated: Emulated,
    store: JobStore,
    poller: Callable[[], QueuePoller],
    why: str,
    size: int | None,
    data: bytes,
    content_type: str,
) -> None:
    """S3 refuses such uploads outright (the policy above); moto does not enforce POST policies, so the
    worker's own check is what shows here: the job fails at once with the reason, nothing is transcribed."""
    drain(emulated)
    created = new_job(emulated, store, size=size)
    fields = dict(created["upload"]["fields"], **{"Content-Type": content_type})
    response = requests.post(
        created["upload"]["url"], data=fields, files={"file": ("x", data, content_type)}, timeout=30
    )
    if response.status_code in (400, 403):  # a store that enforces the policy (S3)
        assert store.read(created["job_id"])[0].status == "awaiting_upload"  # type: ignore[index]
        return
    poller()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"))
    assert done.status == "failed" and done.error and done.error["code"] == "upload_rejected", (why, done)
    assert list(objects(emulated, OUTPUT_BUCKET, created["job_id"])) == [store.status_key(created["job_id"])]
    assert list(objects(emulated, INPUT_BUCKET, created["job_id"])) == [done.upload_key]


def test_status_never_moves_backwards_nor_past_a_final_state(emulated: Emulated, store: JobStore) -> None:
    created = new_job(emulated, store)
    job_id = created["job_id"]
    assert store.advance(job_id, "running", attempts=1).status == "running"  # type: ignore[union-attr]
    assert store.advance(job_id, "queued").status == "running"  # type: ignore[union-attr]  # an older writer
    store.advance(job_id, "succeeded", result={"json_key": "k", "midi_key": "m", "notes_count": 1, "duration_s": 1})
    assert store.advance(job_id, "failed", error={"code": "x", "message": "late"}).status == "succeeded"  # type: ignore[union-attr]
    assert store.advance(job_id, "running", attempts=9).attempts == 1  # type: ignore[union-attr]


def test_a_status_written_between_read_and_write_is_not_overwritten(
    emulated: Emulated, store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers interleave: the compare-and-swap sees the newer document and decides again."""
    created = new_job(emulated, store)
    job_id = created["job_id"]
    real_read = store.read
    raced: list[bool] = []

    def read_then_race(jid: str) -> tuple[JobStatus, str] | None:
        found = real_read(jid)
        if not raced:  # another worker finishes the job right after our read
            raced.append(True)
            store.advance(
                jid, "succeeded", result={"json_key": "k", "midi_key": "m", "notes_count": 2, "duration_s": 2.0}
            )
        return found

    monkeypatch.setattr(store, "read", read_then_race)
    after = store.advance(job_id, "running", attempts=1)
    assert after is not None and after.status == "succeeded" and after.result and after.result["notes_count"] == 2


def test_jobs_take_longer_audio_than_a_request(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    """11 minutes of silence: over /predict's 600 s, within the jobs' limit."""
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(8000 * 660, dtype=np.float32), 8000, format="FLAC")
    assert emulated.handler.service.config.audio.max_duration_s < 660 <= emulated.worker.settings.jobs.max_duration_s
    drain(emulated)
    created = new_job(emulated, store, content_type="audio/flac")
    assert upload(created, buffer.getvalue(), "audio/flac").status_code == 204
    poller()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"), timeout=120)
    assert done.status == "succeeded" and done.result and done.result["duration_s"] == 660.0


def settle(emulated: Emulated, seconds: float = 15) -> None:
    """Until the queue has nothing visible or in flight (the worker took every message)."""
    deadline = time.monotonic() + seconds
    while queue_depths(emulated) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_depths(emulated) == (0, 0)


def test_another_jobs_form_cannot_feed_a_job_and_the_job_can_still_get_its_own_upload(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    """moto does not enforce POST policies, so job A's form with job B's key lands at B's key: the worker
    refuses it (A's token, not B's), B is not advanced and reads awaiting_upload, and B's own upload runs."""
    drain(emulated)
    job_a, job_b = new_job(emulated, store), new_job(emulated, store)
    foreign = dict(job_a["upload"]["fields"], key=job_b["upload"]["fields"]["key"])
    response = requests.post(job_a["upload"]["url"], data=foreign, files={"file": ("x", CLIP, "audio/wav")}, timeout=30)
    poller()
    if response.status_code in (400, 403):  # a store that enforces the policy (S3)
        return
    settle(emulated)
    status_b = store.read(job_b["job_id"])[0]  # type: ignore[index]
    assert status_b.status == "awaiting_upload" and status_b.result is None
    view = describe_job(job_b["job_id"], store=store, download_url=lambda key, name: key)
    assert view["status"] == "awaiting_upload", "a refused upload does not make the job queued"

    assert upload(job_b, CLIP).status_code == 204  # B's own form, B's own token
    done = wait_for(store, job_b["job_id"], ("succeeded", "failed"))
    assert done.status == "succeeded"


def test_an_upload_to_another_key_under_a_job_leaves_it_to_expire(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    drain(emulated)
    created = new_job(emulated, store)
    fields = dict(created["upload"]["fields"], key=created["upload"]["fields"]["key"] + ".other")
    response = requests.post(
        created["upload"]["url"], data=fields, files={"file": ("x", CLIP, "audio/wav")}, timeout=30
    )
    poller()
    if response.status_code not in (400, 403):
        settle(emulated)
    job_id = created["job_id"]
    assert store.read(job_id)[0].status == "awaiting_upload"  # type: ignore[index]
    # Its form expires with no upload of its own: the job reads expired.
    store.advance(job_id, "awaiting_upload", upload_expires_at="2000-01-01T00:00:00Z")
    assert describe_job(job_id, store=store, download_url=lambda key, name: key)["status"] == "expired"


def test_an_upload_after_its_form_expired_is_refused_and_the_job_reads_expired(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller]
) -> None:
    """S3 refuses a form past its expiration; moto takes it, so the worker checks the upload's time."""
    drain(emulated)
    created = new_job(emulated, store)
    job_id = created["job_id"]
    store.advance(job_id, "awaiting_upload", upload_expires_at="2000-01-01T00:00:00Z")
    response = upload(created, CLIP)
    poller()
    if response.status_code not in (400, 403):
        settle(emulated)
    status = store.read(job_id)[0]  # type: ignore[index]
    assert status.status == "awaiting_upload" and status.result is None
    assert describe_job(job_id, store=store, download_url=lambda key, name: key)["status"] == "expired"


def test_a_job_over_its_decoding_budget_fails_at_once(
    emulated: Emulated, store: JobStore, poller: Callable[[], QueuePoller], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The /predict rule scaled to the worker: jobs.max_decoded_samples, checked from the header."""
    drain(emulated)
    tight = dataclasses.replace(
        emulated.worker.store.settings,
        jobs=dataclasses.replace(emulated.worker.store.settings.jobs, max_decoded_samples=22_050),
    )
    monkeypatch.setattr(emulated.worker.store, "settings", tight)
    created = new_job(emulated, store)
    assert upload(created, CLIP).status_code == 204
    poller()
    done = wait_for(store, created["job_id"], ("succeeded", "failed"))
    assert done.status == "failed" and done.error and done.error["code"] == "audio_too_large", done

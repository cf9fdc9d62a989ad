"""Per-key job limits (`service.jobs.quotas`) on moto: jobs in flight and audio per UTC day, each 429
naming its limit with a Retry-After; a consumer's own limits from what `make keys` wrote for its key; finished jobs
free their place; a queued job shows its place."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.environments import PROD
from contract.object_keys import key_consumer_document
from emulation.local_server import local_settings
from service.jobs.quotas import (
    IN_FLIGHT_RETRY_AFTER_S,
    Consumers,
    Quotas,
    TooManyRequestsError,
)
from service.jobs.requests import JobRequest, create_job, describe_job
from service.jobs.store import JobStore

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        settings = dataclasses.replace(
            PROD.service_settings(input_bucket="job-input", output_bucket="job-output"),
            jobs=dataclasses.replace(local_settings().jobs, max_jobs_in_flight=3, max_audio_s_per_day=600),
        )
        s3 = boto3.client("s3")
        for bucket in ("job-input", "job-output"):
            s3.create_bucket(Bucket=bucket)
        store = JobStore(s3, settings)
        quotas = Quotas(s3, settings, store, Consumers(s3, settings))
        keys = {"partner": "partnerkey1", "untagged": "handmadekey"}
        # What `make keys` writes when it makes batch-partner's key; the hand-made key has none.
        s3.put_object(
            Bucket="job-output", Key=key_consumer_document(settings.output_prefix, "partnerkey1"), Body=b"batch-partner"
        )
        yield {"s3": s3, "sqs": boto3.client("sqs"), "store": store, "quotas": quotas, "keys": keys}


def new_job(aws: dict[str, Any], owner: str | None) -> str:
    request = JobRequest(filename="a.wav", content_type="audio/wav", size_bytes=None, parameters={})
    created = create_job(
        request,
        limits=aws["store"].settings.jobs,
        store=aws["store"],
        s3=aws["s3"],
        status_url="/jobs/{job_id}",
        owner=owner,
        admit=aws["quotas"].admit,
    )
    return str(created["job_id"])


def test_a_key_past_its_jobs_in_flight_is_429_naming_the_limit_and_a_finished_job_frees_a_place(aws):
    key = aws["keys"]["untagged"]  # no consumer: the environment's limit (3 here)
    jobs = [new_job(aws, key) for _ in range(3)]
    with pytest.raises(TooManyRequestsError) as refused:
        new_job(aws, key)
    assert refused.value.status == 429 and refused.value.code == "too_many_jobs_in_flight"
    assert "limit of 3 jobs in flight" in refused.value.message
    assert refused.value.headers == {"Retry-After": str(IN_FLIGHT_RETRY_AFTER_S)}
    assert new_job(aws, aws["keys"]["partner"]), "another key is not held back"
    aws["store"].advance(jobs[0], "succeeded", result={"json_key": "k", "duration_s": 60.0})
    assert new_job(aws, key), "a finished job's place is free again"
    aws["store"].advance(jobs[1], "awaiting_upload", upload_expires_at="2000-01-01T00:00:00Z")
    assert new_job(aws, key), "an expired job (no upload came) frees its place too"


def test_a_consumers_own_limits_come_from_what_make_keys_wrote_for_its_key(aws):
    partner = aws["keys"]["partner"]
    assert aws["quotas"].limits(partner)[:2] == (5, 200 * 3600)  # PROD's batch-partner
    for _ in range(5):
        new_job(aws, partner)
    with pytest.raises(TooManyRequestsError) as refused:
        new_job(aws, partner)
    assert "consumer batch-partner's limit of 5 jobs in flight" in refused.value.message


def test_the_days_audio_is_charged_when_jobs_finish_and_429_until_midnight_utc(aws):
    quotas, key = aws["quotas"], aws["keys"]["untagged"]
    job = new_job(aws, key)
    quotas.charge(key, job, 600.0, now=NOON)  # the whole day's 600 s
    with pytest.raises(TooManyRequestsError) as refused:
        quotas.admit(key, "f" * 32, now=NOON)
    assert (
        refused.value.code == "audio_quota_exceeded"
        and "600 audio seconds of jobs per UTC day" in refused.value.message
    )
    assert refused.value.headers == {"Retry-After": str(12 * 3600 + 1)}
    quotas.admit(key, "e" * 32, now=datetime(2026, 12, 8, 0, 0, 1, tzinfo=UTC))  # a new day


def test_no_key_no_limits(aws):
    for _ in range(5):
        new_job(aws, None)


def test_a_queued_job_shows_its_place(aws):
    store, sqs = aws["store"], aws["sqs"]
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    for n in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    job = new_job(aws, None)
    status = store.read(job)[0]
    aws["s3"].put_object(Bucket="job-input", Key=status.upload_key, Body=b"x")

    def depth() -> tuple[int, int]:
        got = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(got["ApproximateNumberOfMessages"]), int(got["ApproximateNumberOfMessagesNotVisible"])

    view = describe_job(job, store=store, download_url=lambda k, n: k, queue_depth=depth)
    assert view["status"] == "queued"
    assert view["queue"] == {"jobs_ahead_at_most": 3, "jobs_waiting": 4, "jobs_running": 0}


@pytest.mark.parametrize(("consumer", "whose"), [("developers", "consumer developers'"), ("lab", "consumer lab's")])
def test_the_429_names_whose_limit_in_plain_english(aws, monkeypatch, consumer: str, whose: str) -> None:
    """A stranger saw "consumer developers's limit": a name ending in s takes an apostrophe alone."""
    monkeypatch.setattr(aws["quotas"], "_consumers", SimpleNamespace(of=lambda key_id: consumer))
    assert aws["quotas"].limits(aws["keys"]["untagged"])[2] == whose


def test_a_finished_jobs_links_sign_its_own_result_whatever_its_status_document_names(aws):
    """The status document is written by the worker, which decodes hostile media: keys it names (another
    job's result, a key's ledger) are never what GET /jobs/{id} signs."""
    store = aws["store"]
    job, other = new_job(aws, None), new_job(aws, None)
    other_json, other_midi = store.result_keys(other)
    store.advance(job, "succeeded", result={"json_key": other_json, "midi_key": other_midi, "duration_s": 1.0})
    view = describe_job(job, store=store, download_url=lambda key, name: key)
    assert (view["result"]["json_url"], view["result"]["midi_url"]) == store.result_keys(job)
    assert view["result"]["duration_s"] == 1.0 and "json_key" not in view["result"]

"""`make serve` with `--api-keys` ($LOCAL_API_KEYS): the consumers' keys printed at start, every route
but /health keyed, and jobs owned by the key that made them, as deployed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from config.environments import PROD
from tests.support.service import LocalServer


@pytest.fixture(scope="module")
def keyed_server(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path_factory.mktemp("keyed") / "serve.log", environ={"LOCAL_API_KEYS": "prod"})
    yield server
    server.stop()


def printed_keys(server: LocalServer) -> dict[str, str]:
    return dict(re.findall(r"key of ([a-z0-9-]+): (\S+)", server.output()))


def test_a_key_per_consumer_is_printed_and_jobs_belong_to_the_key_that_made_them(keyed_server: LocalServer) -> None:
    keys = printed_keys(keyed_server)
    assert set(keys) == {c.name for c in PROD.api.consumers}
    url = keyed_server.url
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
    body = {"filename": "a.wav", "content_type": "audio/wav"}
    refused = requests.post(f"{url}/jobs", json=body, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_api_key"
    first, second = (keys[c.name] for c in PROD.api.consumers[:2])
    created = requests.post(f"{url}/jobs", json=body, headers={"x-api-key": first}, timeout=10)
    assert created.status_code == 201
    job = f"{url}/jobs/{created.json()['job_id']}"
    assert requests.get(job, headers={"x-api-key": first}, timeout=10).json()["status"] == "awaiting_upload"
    assert requests.get(job, headers={"x-api-key": second}, timeout=10).status_code == 404, "another key's job"


def test_one_consumers_backlog_is_held_at_its_limit_while_another_still_gets_its_jobs_in(
    keyed_server: LocalServer,
) -> None:
    """batch-partner (prod) may have 5 jobs unfinished: the 6th is 429 with Retry-After naming the limit;
    web-app's next job is created all the same (its own limit, its own place in the queue)."""
    keys = printed_keys(keyed_server)
    url, body = keyed_server.url, {"filename": "b.wav", "content_type": "audio/wav"}
    partner = {"x-api-key": keys["batch-partner"]}
    statuses = [requests.post(f"{url}/jobs", json=body, headers=partner, timeout=10).status_code for _ in range(5)]
    assert statuses == [201] * 5
    refused = requests.post(f"{url}/jobs", json=body, headers=partner, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert (
        error["code"] == "too_many_jobs_in_flight" and "batch-partner's limit of 5 jobs in flight" in error["message"]
    )
    other = requests.post(f"{url}/jobs", json=body, headers={"x-api-key": keys["web-app"]}, timeout=10)
    assert other.status_code == 201

"""`make keys`: API keys made outside Terraform, against the moto emulator (its own server, a fresh account).

The command runs as an operator runs it (`python -m operations.keys`, in a subprocess, talking to the
emulator by environment alone). The consumers' usage plans are made here as the stack makes them: tagged
`Consumer=<name>` with the provider's Environment and Project tags (the synthesized plans carry exactly
that tag: tests/infra/test_stack_properties.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from config.environments import PROD
from contract.object_keys import key_consumer_document
from operations import keys
from tests.support.emulator import MotoServer

REPO = Path(__file__).resolve().parents[2]
CONSUMERS = [c.name for c in PROD.api.consumers]
VALUE = re.compile(r"stored nowhere else\): (\S+)$")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("keys") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def account(emulator: MotoServer) -> Iterator[dict[str, str]]:
    """A fresh emulated account with prod's usage plans, and another environment's plan beside them."""
    import random

    environment = emulator.environment(account_id=str(random.randint(10**11, 10**12 - 1)))
    apigw = client(environment)
    for consumer in CONSUMERS:
        apigw.create_usage_plan(
            name=f"{PROD.resource_prefix}-api-{consumer}-plan",
            tags={"Environment": "prod", "Project": PROD.project, keys.CONSUMER_TAG: consumer, "ManagedBy": "cdktf"},
        )
    apigw.create_usage_plan(
        name="audio-inference-dev-api-web-app-plan",
        tags={"Environment": "dev", "Project": PROD.project, keys.CONSUMER_TAG: "web-app"},
    )
    yield environment


def client(environment: dict[str, str]) -> Any:
    return boto3.client(
        "apigateway",
        region_name=PROD.region,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
    )


def run_keys(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "operations.keys", "--env", "prod", *args],
        cwd=REPO,
        env={**environment, "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def plan_of(apigw: Any, consumer: str, env: str = "prod") -> str:
    return next(
        p["id"]
        for p in apigw.get_usage_plans()["items"]
        if p["tags"].get(keys.CONSUMER_TAG) == consumer and p["tags"]["Environment"] == env
    )


def attached(apigw: Any, consumer: str) -> list[str]:
    return sorted(k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan_of(apigw, consumer))["items"])


def created(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    key_id = lines[0].split(" key ")[1].split()[0]
    match = VALUE.search(lines[1])
    assert match, lines
    return key_id, match.group(1)


def test_create_shows_the_value_once_and_attaches_the_key_to_the_consumers_plan_only(account) -> None:
    apigw = client(account)
    key_id, value = created(run_keys(account, "create", "--consumer", "web-app"))
    assert len(value) >= 20
    assert apigw.get_api_key(apiKey=key_id, includeValue=True)["value"] == value
    assert key_id in attached(apigw, "web-app")
    assert attached(apigw, "batch-partner") == []
    dev_plan = plan_of(apigw, "web-app", env="dev")
    assert apigw.get_usage_plan_keys(usagePlanId=dev_plan)["items"] == [], "another environment's plan untouched"
    listing = run_keys(account, "list")
    assert listing.returncode == 0, listing.stderr
    assert value not in listing.stdout and value not in listing.stderr, "list never shows a value"
    assert f"prod: web-app {key_id} enabled attached" in listing.stdout


def test_list_shows_ids_and_consumers_never_values(account) -> None:
    made = {consumer: created(run_keys(account, "create", "--consumer", consumer)) for consumer in CONSUMERS}
    listing = run_keys(account, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == len(CONSUMERS)
    for consumer, (key_id, value) in made.items():
        assert any(line.startswith(f"prod: {consumer} {key_id} enabled attached") for line in lines), lines
        assert value not in listing.stdout


def test_rotate_gives_a_new_value_and_the_old_key_is_no_longer_attached(account) -> None:
    apigw = client(account)
    old_id, old_value = created(run_keys(account, "create", "--consumer", "batch-partner"))
    result = run_keys(account, "rotate", "--consumer", "batch-partner")
    new_id, new_value = created(result)
    assert (new_id, new_value) != (old_id, old_value) and new_value != old_value
    assert f"old key {old_id} of batch-partner detached and deleted" in result.stdout
    assert attached(apigw, "batch-partner") == [new_id]
    assert old_id not in {k["id"] for k in apigw.get_api_keys()["items"]}


def test_revoke_removes_the_consumers_key(account) -> None:
    apigw = client(account)
    key_id, _ = created(run_keys(account, "create", "--consumer", "web-app"))
    other_id, _ = created(run_keys(account, "create", "--consumer", "batch-partner"))
    result = run_keys(account, "revoke", "--consumer", "web-app")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"prod: key {key_id} of web-app revoked (detached and deleted)\n"
    assert attached(apigw, "web-app") == []
    assert {k["id"] for k in apigw.get_api_keys()["items"]} == {other_id}
    again = run_keys(account, "revoke", "--consumer", "web-app")
    assert (again.returncode, again.stderr) == (2, "error: prod: web-app has no key to revoke\n")


def test_an_unknown_consumer_or_an_undeployed_plan_is_one_line(account, emulator) -> None:
    unknown = run_keys(account, "create", "--consumer", "mallory")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        f"error: consumer='mallory' is invalid: allowed one of {CONSUMERS} (api.consumers of prod)\n"
    )
    empty = emulator.environment(account_id="210987654321")
    missing = run_keys(empty, "create", "--consumer", "web-app")
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: prod: no usage plan tagged Consumer=web-app (deploy inference-prod first: make deploy ENV=prod)\n"
    )


def test_each_key_is_named_for_its_consumer_where_the_service_reads_its_job_limits(account) -> None:
    """The service finds a key's job limits (api.consumers.max_jobs_in_flight...) by this document, never
    by reading the key through API Gateway (which can read its value)."""
    s3 = boto3.client(
        "s3",
        region_name=PROD.region,
        endpoint_url=account["AWS_ENDPOINT_URL"],
        aws_access_key_id=account["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=account["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"{PROD.resource_prefix}-output-20261207"
    s3.create_bucket(Bucket=bucket)
    result = run_keys(account, "create", "--consumer", "batch-partner")
    key_id, _ = created(result)
    assert f"key {key_id} counts toward batch-partner's job limits" in result.stdout
    document = key_consumer_document(PROD.storage.output_prefix, key_id)
    assert s3.get_object(Bucket=bucket, Key=document)["Body"].read() == b"batch-partner"
    rotated = run_keys(account, "rotate", "--consumer", "batch-partner")
    new_id, _ = created(rotated)
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert listed == {key_consumer_document(PROD.storage.output_prefix, new_id)}, "the old key's is gone"
    assert run_keys(account, "revoke", "--consumer", "batch-partner").returncode == 0
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

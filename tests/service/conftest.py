"""The service under test: its two Lambda entries in this process, and `make serve`'s server on a socket.

All of it needs the model, so every test using these is marked `model` (tests/conftest.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from emulation.local_jobs import JobQueues, create_pipeline
from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, local_settings
from tests.support.emulator import MotoServer

QUEUE_VISIBILITY_S = 2
"""Short, so redeliveries after a failure come within seconds."""


@dataclass(frozen=True)
class Emulated:
    """moto in this process, with the buckets and the jobs pipeline, and the entries imported against it."""

    handler: ModuleType
    worker: ModuleType
    dead_letters: ModuleType
    s3: Any
    sqs: Any
    queues: JobQueues


@pytest.fixture(scope="session")
def emulated(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulated]:
    """`service.handler`, `service.worker` and `service.dead_letters` imported as Lambda imports them (settings from the
    environment). The environment is restored after the imports: the modules' clients keep what they
    resolved. moto runs in its own process: an in-process server shares moto's global state with the
    `mock_aws` of other tests on the same worker, which resets it (buckets and all) when it ends."""
    emulator = MotoServer(tmp_path_factory.mktemp("emulated") / "moto.log")
    endpoint = emulator.endpoint
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = dict(os.environ)
    os.environ.update({**aws, **local_settings().to_environment()})
    try:
        s3 = boto3.client("s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        queues = create_pipeline(local_settings(), visibility_timeout_s=QUEUE_VISIBILITY_S)
        handler = importlib.import_module("service.handler")
        worker = importlib.import_module("service.worker")
        dead_letters = importlib.import_module("service.dead_letters")
        sqs = boto3.client("sqs")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield Emulated(handler=handler, worker=worker, dead_letters=dead_letters, s3=s3, sqs=sqs, queues=queues)
    emulator.stop()


@pytest.fixture(scope="session")
def lambda_entry(emulated: Emulated) -> tuple[ModuleType, Any]:
    return emulated.handler, emulated.s3

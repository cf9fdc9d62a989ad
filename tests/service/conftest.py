"""The service under test: the Lambda entry in this process, and `make serve`'s server on a socket.

Both need the model, so every test using them is marked `model` (tests/conftest.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from service.local_server import INPUT_BUCKET, OUTPUT_BUCKET, free_port, local_settings
from tests.support.service import LocalServer


@pytest.fixture(scope="session")
def lambda_entry(model_artifact: Path) -> Iterator[tuple[ModuleType, Any]]:
    """`service.handler` imported as Lambda imports it (settings from the environment), against an
    in-process moto; yields the module and an S3 client on that moto. The environment is restored
    after the import: the module's clients keep what they resolved."""
    port = free_port()
    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    emulator.start()
    endpoint = f"http://127.0.0.1:{port}"
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = dict(os.environ)
    os.environ.update({**aws, **local_settings().to_environment(), "POWERTOOLS_METRICS_NAMESPACE": "AudioInference"})
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        module = importlib.import_module("service.handler")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield module, s3
    emulator.stop()


@pytest.fixture(scope="session")
def local_server(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()

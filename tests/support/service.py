"""The service as tests drive it: `make serve`'s server on a real socket, the contract, bucket listings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from jsonschema_path import SchemaPath
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, free_port
from tests.support.emulator import emulator_client

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi.yaml"
BUCKETS = (INPUT_BUCKET, OUTPUT_BUCKET)


class LocalServer:
    """`python -m emulation.local_server` in its own process, as `make serve` starts it."""

    def __init__(self, log_path: Path, environ: dict[str, str] | None = None) -> None:
        self.port, self.emulator_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.emulator = f"http://127.0.0.1:{self.emulator_port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulation.local_server",
                "--port",
                str(self.port),
                "--emulator-port",
                str(self.emulator_port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environ or {})},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the local server did not answer within 60 s:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def s3(self) -> Any:
        return emulator_client(self.emulator, "s3")

    def objects(self) -> dict[str, dict[str, str]]:
        """Every object in both buckets: {bucket: {key: etag}}."""
        s3 = self.s3()
        listing: dict[str, dict[str, str]] = {}
        for bucket in BUCKETS:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            listing[bucket] = {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}
        return listing

    def stop(self) -> int:
        """Ctrl-C, as a person stops `make serve`; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def contract(base_url: str) -> OpenAPI:
    """openapi.yaml with `base_url` as its server, its external $refs resolved next to it."""
    data = yaml.safe_load(OPENAPI.read_text())
    data["servers"] = [{"url": base_url}]
    return OpenAPI(SchemaPath.from_dict(data, base_uri=OPENAPI.as_uri()))


def assert_follows_contract(api: OpenAPI, response: requests.Response) -> None:
    """The real response (status, headers, body) is one openapi.yaml describes for its request."""
    api.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))


def error_of(response: requests.Response) -> dict[str, str]:
    """The error object of a response in the one error shape (asserting the shape)."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    error: dict[str, str] = body["error"]
    assert error["request_id"], body
    assert not re.search(r"Traceback|/work/|/tmp/|/home/|\.py\b|audio-inference-local-", error["message"]), error
    return error

"""A moto server on a free loopback port, started and stopped by the tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_client(endpoint: str, service: str) -> Any:
    """A boto3 client of `service` on an emulator at `endpoint`, in us-east-1 with the dummy credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextlib.contextmanager
def in_process_moto() -> Iterator[str]:
    """A moto server in this process on a free port, starting from no state; yields its endpoint. moto's
    backends are per process, so without the reset a module that ran earlier in the same pytest worker
    (which one, xdist's file order decides) would leave its repositories and buckets here."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30)
        yield endpoint
    finally:
        server.stop()


class MotoServer:
    """`make emulator`'s server (moto, operations/emulator.py) in its own process; AWS managed policies loaded
    (IAM attachments need them)."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("w")
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "operations.emulator", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}; see {log_path}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not answer within 30 s")

    def environment(self, account_id: str | None = None) -> dict[str, str]:
        """What any AWS client (terraform's provider, boto3) needs to talk to this emulator.

        With `account_id`, the credentials come from an STS AssumeRole into that account,
        which moto then attributes every call to: environments can live in separate
        accounts, as they do on AWS. Without it: moto's default account.
        """
        env = {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}
        if account_id is None:
            return env
        import boto3

        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/deployer", RoleSessionName="emulator-tests"
        )["Credentials"]
        return {
            **env,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()

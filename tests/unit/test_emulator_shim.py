"""`make emulator` answers the API Gateway account reset the stacks' destroy sends (moto 5.2 alone: a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.emulator import MotoServer


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path / "moto.log")
    yield server
    server.stop()


def test_a_replace_without_a_value_resets_the_cloudwatch_role(emulator: MotoServer) -> None:
    apigw = boto3.client(
        "apigateway",
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    role = "arn:aws:iam::123456789012:role/audio-inference-dev-api-apigw-logs"
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert apigw.get_account()["cloudwatchRoleArn"] == role
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn"}])  # reset_on_delete's call
    assert not apigw.get_account().get("cloudwatchRoleArn")

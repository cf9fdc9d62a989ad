"""`make emulator`'s two corrections to moto 5.2: the API Gateway account reset the stacks' destroy sends
(moto alone: a 500), and a TLS-only bucket policy that does not deny every object request over its HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.emulator import MotoServer, emulator_client


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path / "moto.log")
    yield server
    server.stop()


def test_a_replace_without_a_value_resets_the_cloudwatch_role(emulator: MotoServer) -> None:
    apigw = emulator_client(emulator.endpoint, "apigateway")
    role = "arn:aws:iam::123456789012:role/audio-inference-dev-api-apigw-logs"
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert apigw.get_account()["cloudwatchRoleArn"] == role
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn"}])  # reset_on_delete's call
    assert not apigw.get_account().get("cloudwatchRoleArn")


def test_a_tls_only_bucket_policy_does_not_deny_requests_to_the_emulator(emulator: MotoServer) -> None:
    s3 = emulator_client(emulator.endpoint, "s3")
    s3.create_bucket(Bucket="tls-only")
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::tls-only/*"}
    tls_only = {**deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]}))
    s3.put_object(Bucket="tls-only", Key="state", Body=b"{}")
    assert s3.get_object(Bucket="tls-only", Key="state")["Body"].read() == b"{}"
    # any other deny still denies
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    with pytest.raises(s3.exceptions.ClientError, match="403"):
        s3.head_object(Bucket="tls-only", Key="state")

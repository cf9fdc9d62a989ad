"""S3's POST policy as the embedded emulator enforces it (`emulation.post_policy`), on forms boto3 signs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from emulation.post_policy import refusal

BUCKET = "audio-inference-local-input"
NOW = datetime.now(UTC)


def signed_form(signature_version: str = "s3v4", **overrides: Any) -> dict[str, str]:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version=signature_version),
    )
    form = s3.generate_presigned_post(
        Bucket=BUCKET,
        Key="uploads/jobs/abc/take.wav",
        Fields={"Content-Type": "audio/wav", "x-amz-meta-upload-token": "t0k"},
        Conditions=[
            {"Content-Type": "audio/wav"},
            {"x-amz-meta-upload-token": "t0k"},
            ["content-length-range", 1, 1000],
        ],
        ExpiresIn=900,
    )
    fields: dict[str, str] = dict(form["fields"])
    fields.update(overrides)
    return fields


def refused(fields: dict[str, str], size: int = 500, now: datetime = NOW, secret: str = "testing") -> Any:
    return refusal(fields, size, bucket=BUCKET, secret=secret, now=now)


def test_a_form_as_signed_passes() -> None:
    assert refused(signed_form()) is None
    assert refused(signed_form("s3")) is None  # SigV2, boto3's default for presigned POSTs
    assert refused(signed_form("s3"), secret="another").code == "SignatureDoesNotMatch"
    assert refused(signed_form(**{"x-ignore-note": "anything"})) is None


@pytest.mark.parametrize(("size", "code", "status"), [(1001, "EntityTooLarge", 400), (0, "EntityTooSmall", 400)])
def test_a_file_outside_the_length_range_is_refused_as_s3_refuses_it(size: int, code: str, status: int) -> None:
    answer = refused(signed_form(), size=size)
    assert (answer.status, answer.code) == (status, code)
    assert f"<ProposedSize>{size}</ProposedSize>".encode() in answer.xml()


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"Content-Type": "audio/flac"}, 'Policy Condition failed: ["eq", "$Content-Type", "audio/wav"]'),
        (
            {"key": "uploads/jobs/other/take.wav"},
            'Policy Condition failed: ["eq", "$key", "uploads/jobs/abc/take.wav"]',
        ),
        ({"x-amz-meta-upload-token": "stolen"}, "Policy Condition failed"),
        ({"x-amz-meta-owner": "me"}, "Extra input fields: x-amz-meta-owner"),
    ],
)
def test_a_field_the_policy_does_not_allow_is_refused(change: dict[str, str], detail: str) -> None:
    answer = refused(signed_form(**change))
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.message.startswith("Invalid according to Policy: ") and detail in answer.message


def test_an_expired_form_is_refused() -> None:
    answer = refused(signed_form(), now=NOW + timedelta(seconds=901))
    assert (answer.status, answer.message) == (403, "Invalid according to Policy: Policy expired.")


def test_a_policy_edited_after_signing_or_signed_with_another_key_is_refused() -> None:
    fields = signed_form()
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not isinstance(c, list)]  # no size limit
    edited = dict(fields, policy=base64.b64encode(json.dumps(policy).encode()).decode())
    assert refused(edited).code == "SignatureDoesNotMatch"
    assert refused(signed_form(), secret="another").code == "SignatureDoesNotMatch"
    assert refused(dict(fields, policy="not base64!")).code == "InvalidPolicyDocument"


def test_a_post_without_a_policy_is_left_to_the_bucket() -> None:
    assert refused({"key": "x"}) is None

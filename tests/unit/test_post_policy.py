"""S3's POST policy as the embedded emulator enforces it (`emulation.post_policy`), on forms boto3 signs."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from urllib3 import encode_multipart_formdata

from emulation.post_policy import UploadForm, enforcing_post_policies, read_form, refusal

BUCKET = "audio-inference-local-input"


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


def refused(fields: dict[str, str], size: int = 500, now: datetime | None = None, secret: str = "testing") -> Any:
    return refusal(fields, size, bucket=BUCKET, secret=secret, now=now or datetime.now(UTC))


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
    form = signed_form()
    expiration = datetime.fromisoformat(
        json.loads(base64.b64decode(form["policy"]))["expiration"].replace("Z", "+00:00")
    )
    assert refused(form, now=expiration - timedelta(seconds=1)) is None
    answer = refused(form, now=expiration + timedelta(seconds=1))
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


class Moto:
    """The app behind the check: records what reached it."""

    def __init__(self) -> None:
        self.forms: list[UploadForm] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        form = read_form(body, environ["CONTENT_TYPE"])
        assert isinstance(form, UploadForm)
        self.forms.append(form)
        start_response("204 No Content", [])
        return [b""]


AUDIO = bytes(range(256)) * 4  # binary: not UTF-8


def post(app: Any, body: bytes, content_type: str, length: bool = True) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/{BUCKET}",
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body),
        **({"CONTENT_LENGTH": str(len(body))} if length else {}),
    }
    answer: list[str] = []
    body_out = b"".join(app(environ, lambda status, headers: answer.append(status)))
    return answer[0], body_out


def form(parts: list[tuple[str, Any]]) -> tuple[bytes, str]:
    return encode_multipart_formdata(parts)


@pytest.mark.parametrize("file_name", [True, False], ids=["file-part", "curl -F file=<x"])
def test_a_good_upload_reaches_the_store_with_its_bytes_as_a_file_part(file_name: bool) -> None:
    """`curl -F file=<x` sends the file without a file name: it was let through unchecked, and moto stored
    its binary decoded as UTF-8 (twice the size)."""
    moto, fields = Moto(), signed_form()
    file_part = ("take.wav", AUDIO[:1000], "audio/wav") if file_name else AUDIO[:1000]
    status, _ = post(enforcing_post_policies(moto, secret="testing"), *form([*fields.items(), ("file", file_part)]))
    assert status.startswith("204")
    (stored,) = moto.forms
    assert stored.data == AUDIO[:1000] and stored.fields == fields


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        (lambda f: list(f.items()), "400", b"InvalidArgument"),  # no file
        (lambda f: [*f.items(), ("file", AUDIO[:10]), ("file", AUDIO[:10])], "400", b"InvalidArgument"),
        (lambda f: [("file", AUDIO[:10]), *f.items()], "400", b"InvalidArgument"),  # fields after it: ignored
        (lambda f: [("Content-Type", "text/plain"), *f.items(), ("file", AUDIO[:10])], "400", b"InvalidArgument"),
        (lambda f: [*[(k, v) for k, v in f.items() if k != "policy"], ("file", AUDIO[:10])], "403", b"AccessDenied"),
        (lambda f: [*f.items(), ("file", AUDIO[:2000])], "400", b"EntityTooLarge"),
    ],
    ids=["no file", "two files", "file first", "a field twice", "no policy", "too large"],
)
def test_a_form_s3_refuses_never_reaches_the_store(parts: Any, status: str, code: bytes) -> None:
    moto = Moto()
    answer, body = post(enforcing_post_policies(moto, secret="testing"), *form(parts(signed_form())))
    assert answer.startswith(status) and b"<Code>" + code + b"</Code>" in body, body
    assert moto.forms == []


def test_a_malformed_or_unsized_form_gets_s3s_xml_not_a_server_error() -> None:
    """moto answered these with a 500 HTML page and a traceback in the log."""
    moto = Moto()
    checked = enforcing_post_policies(moto, secret="testing")
    body, content_type = form([*signed_form().items(), ("file", ("a.wav", AUDIO, "audio/wav"))])
    for case in (post(checked, body[:-40], content_type), post(checked, body, "multipart/form-data")):
        assert case[0].startswith("400") and b"<Code>MalformedPOSTRequest</Code>" in case[1]
    status, answer = post(checked, body, content_type, length=False)
    assert status.startswith("411") and b"<Code>MissingContentLength</Code>" in answer
    assert moto.forms == []

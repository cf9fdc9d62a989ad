"""Model artifacts: resolution, checksum verification, S3 download and cache."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from inference import artifact
from inference.errors import (
    ModelArtifactMissingError,
    ModelArtifactUnreadableError,
    ModelChecksumMismatchError,
)
from inference.models.basic_pitch.model import BasicPitchModel
from inference.pinned import BASIC_PITCH

SHA = BASIC_PITCH.sha256
FILE = BASIC_PITCH.filename
VERSION = BASIC_PITCH.version


def test_file_uri_resolves_after_checksum(model_artifact):
    assert (
        artifact.resolve_artifact(f"file://{model_artifact}", SHA, model_name="basic-pitch", version=VERSION)
        == model_artifact
    )


def test_fails_checksum_mismatch(tmp_path):
    fake = tmp_path / FILE
    fake.write_bytes(b"not the model")
    with pytest.raises(ModelChecksumMismatchError) as e:
        artifact.resolve_artifact(f"file://{fake}", SHA, model_name="basic-pitch", version=VERSION)
    assert SHA in str(e.value)


def test_fails_missing_file(tmp_path):
    with pytest.raises(ModelArtifactMissingError):
        artifact.resolve_artifact(f"file://{tmp_path}/absent.onnx", SHA, model_name="basic-pitch", version=VERSION)


def test_fails_missing_pinned_artifact_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelArtifactMissingError) as e:
        artifact.resolve_artifact("pinned", SHA, model_name="basic-pitch", version=VERSION)
    assert "make model" in str(e.value)


def test_fails_unloadable_onnx(tmp_path):
    fake = tmp_path / "broken.onnx"
    fake.write_bytes(b"\x00garbage")
    with pytest.raises(ModelArtifactUnreadableError):
        BasicPitchModel().load(fake, sha256="0" * 64, version="x")


@mock_aws
def test_s3_artifact_is_downloaded_once_and_cached(model_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    uri = artifact.upload_artifact(model_artifact, f"s3://models/basic-pitch/{VERSION}/", s3_client=s3)
    assert uri == f"s3://models/basic-pitch/{VERSION}/{FILE}"
    first = artifact.resolve_artifact(uri, SHA, model_name="basic-pitch", version=VERSION, s3_client=s3)
    s3.delete_object(Bucket="models", Key=f"basic-pitch/{VERSION}/{FILE}")
    second = artifact.resolve_artifact(uri, SHA, model_name="basic-pitch", version=VERSION, s3_client=s3)
    assert first == second and artifact.sha256_of(second) == SHA


@mock_aws
def test_fails_missing_s3_object(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    with pytest.raises(ModelArtifactMissingError):
        artifact.resolve_artifact("s3://models/none.onnx", SHA, model_name="basic-pitch", version=VERSION, s3_client=s3)


@mock_aws
def test_fails_s3_object_with_wrong_checksum_and_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="m.onnx", Body=b"tampered")
    with pytest.raises(ModelChecksumMismatchError):
        artifact.resolve_artifact("s3://models/m.onnx", SHA, model_name="basic-pitch", version=VERSION, s3_client=s3)
    assert not list((tmp_path / "cache").glob("*"))

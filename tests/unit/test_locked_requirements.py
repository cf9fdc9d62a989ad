"""The supply chain is pinned by hash: every requirement the image, `make setup` and the scanners install
comes from a lock file with its sha256 (pip --require-hashes), and each lock holds the pins of the
requirements file it was made from (`make lock`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCKS = {
    "docker/requirements-inference.lock": ("docker/requirements-inference.txt",),
    "requirements.lock": ("requirements.txt", "requirements-dev.txt"),
    "requirements-scanners.lock": ("requirements-scanners.txt",),
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text: str) -> list[str]:
    """A lock's requirements, each with its continuation lines joined."""
    joined = text.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def requirements(lock: str) -> list[str]:
    return entries((REPO / lock).read_text())


def unhashed(text: str) -> list[str]:
    """The entries of a lock that are not pinned with == or carry no sha256."""
    return [e.split()[0] for e in entries(text) if not PIN.match(e) or "--hash=sha256:" not in e]


def pins(path: str) -> dict[str, str]:
    found = {}
    for line in (REPO / path).read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[canonical(match.group(1))] = match.group(3)
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_is_pinned_by_hash(lock: str) -> None:
    assert requirements(lock), lock
    assert unhashed((REPO / lock).read_text()) == [], f"{lock}: entries without a pin and hash"


@pytest.mark.parametrize("lock", LOCKS)
def test_each_lock_holds_its_requirements_files_pins(lock: str) -> None:
    locked = {canonical(PIN.match(e).group(1)): PIN.match(e).group(3) for e in requirements(lock)}  # type: ignore[union-attr]
    for source in LOCKS[lock]:
        for name, version in pins(source).items():
            assert locked.get(name) == version, (
                f"{source} pins {name}=={version}, {lock} has {locked.get(name)}: run make lock"
            )


def test_every_install_of_requirements_requires_hashes() -> None:
    makefile = (REPO / "Makefile").read_text()
    installs = re.findall(r"pip install[^\n]*-r (\S+)", makefile)
    assert installs and all(path.endswith(".lock") for path in installs), installs
    assert all("--require-hashes" in line for line in makefile.splitlines() if re.search(r"pip install.* -r ", line))
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements-inference.lock" in dockerfile


def test_the_check_catches_a_requirement_without_a_hash() -> None:
    lock = (
        "# made by make lock\n"
        "numpy==2.4.6 \\\n    --hash=sha256:" + "a" * 64 + "\n"
        "soxr==1.1.0\n"
        "mido>=1.3 \\\n    --hash=sha256:" + "b" * 64 + "\n"
    )
    assert unhashed(lock) == ["soxr==1.1.0", "mido>=1.3"]

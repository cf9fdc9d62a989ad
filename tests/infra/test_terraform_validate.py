"""`terraform validate` of every synthesized stack, with the real AWS provider, installed against the
committed dependency lock file (read only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from operations import terraform_mirror
from tests.support.components import provider_mirror, terraform_binary
from tests.support.stacks import Stack, stack_names
from tests.support.terraform import TerraformStack

LOCKED_PROVIDER = re.compile(
    r'provider "registry\.terraform\.io/hashicorp/aws" \{\s*version\s*=\s*"(?P<version>[^"]+)"\s*'
    r'constraints\s*=\s*"(?P<constraints>[^"]+)"\s*hashes\s*=\s*\[(?P<hashes>[^\]]*)\]'
)


def locked_aws() -> re.Match[str]:
    found = LOCKED_PROVIDER.search(terraform_mirror.LOCK_FILE.read_text())
    assert found, f"{terraform_mirror.LOCK_FILE} locks no registry.terraform.io/hashicorp/aws"
    return found


@pytest.mark.parametrize("stack_name", stack_names())
def test_terraform_validate(synth_dir: Path, tmp_path: Path, stack_name: str) -> None:
    stack = TerraformStack(
        terraform_binary(), synth_dir / "stacks" / stack_name, tmp_path / stack_name, provider_mirror(), env={}
    )
    stack.init(backend=False)  # -lockfile=readonly: the committed checksums must match what is installed
    assert (tmp_path / stack_name / ".terraform.lock.hcl").read_bytes() == terraform_mirror.LOCK_FILE.read_bytes()
    result = stack.validate()
    assert result["valid"] is True, result["diagnostics"]
    assert result["error_count"] == 0


def test_the_lock_file_pins_the_version_the_bindings_write(stacks: dict[str, Stack]) -> None:
    locked = locked_aws()
    hashes = re.findall(r'"([^"]+)"', locked["hashes"])
    assert hashes and all(re.fullmatch(r"(h1|zh):[A-Za-z0-9+/=]+", h) for h in hashes), hashes
    for name, stack in stacks.items():
        aws = stack["terraform"]["required_providers"]["aws"]
        assert (locked["version"], locked["constraints"]) == (aws["version"], aws["version"]), name


def test_fails_to_init_when_the_provider_does_not_match_the_locked_checksum(synth_dir: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.lock.hcl"
    tampered.write_text(re.sub(r'"h1:[^"]+"', '"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="', locked_aws().string))
    name = stack_names()[0]
    stack = TerraformStack(terraform_binary(), synth_dir / "stacks" / name, tmp_path / name, provider_mirror(), env={})
    terraform_mirror.install_lock_file(stack.workdir, tampered)
    with pytest.raises(AssertionError, match="checksum"):
        stack.init(backend=False)
    assert (stack.workdir / ".terraform.lock.hcl").read_text() == tampered.read_text(), "init rewrote the lock"

"""`terraform validate` of every synthesized stack, with the real AWS provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.components import provider_mirror, terraform_binary
from tests.support.stacks import stack_names
from tests.support.terraform import TerraformStack


@pytest.mark.parametrize("stack_name", stack_names())
def test_terraform_validate(synth_dir: Path, tmp_path: Path, stack_name: str) -> None:
    stack = TerraformStack(
        terraform_binary(), synth_dir / "stacks" / stack_name, tmp_path / stack_name, provider_mirror(), env={}
    )
    stack.init(backend=False)
    result = stack.validate()
    assert result["valid"] is True, result["diagnostics"]
    assert result["error_count"] == 0

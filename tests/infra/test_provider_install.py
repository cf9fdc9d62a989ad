"""Without a mirror, providers come from the registry; where that fails, the error says how to work offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.components import terraform_binary
from tests.support.terraform import ProviderInstallError, TerraformStack


def test_fails_with_mirror_advice_when_the_registry_cannot_be_reached(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "main.tf.json").write_text(
        json.dumps({"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}}})
    )
    # A network mirror nobody answers on stands in for "no network", on any machine.
    unreachable = tmp_path / "terraformrc"
    unreachable.write_text('provider_installation {\n  network_mirror {\n    url = "https://127.0.0.1:9/"\n  }\n}\n')
    stack = TerraformStack(
        terraform_binary(),
        source,
        tmp_path / "work",
        mirror=None,
        env={"TF_CLI_CONFIG_FILE": str(unreachable), "TF_PLUGIN_CACHE_DIR": str(tmp_path / "cache")},
    )
    with pytest.raises(ProviderInstallError) as failure:
        stack.init(backend=False)
    message = str(failure.value)
    assert "export TF_PROVIDER_MIRROR=" in message
    assert "registry.terraform.io/hashicorp/aws/<version>/<os_arch>" in message
    assert "127.0.0.1:9" in message, "terraform's own reason is kept"

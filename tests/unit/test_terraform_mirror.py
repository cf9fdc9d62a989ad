"""The offline provider mirror helpers: nothing machine-specific, everything from $TF_PROVIDER_MIRROR."""

from __future__ import annotations

from tests.support.components import terraform_mirror


def make_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    return mirror


def test_mirror_comes_from_the_environment_only(tmp_path):
    mirror = make_mirror(tmp_path)
    assert terraform_mirror.mirror_dir({"TF_PROVIDER_MIRROR": str(mirror)}) == mirror.resolve()
    assert terraform_mirror.mirror_dir({}) is None
    assert terraform_mirror.mirror_dir({"TF_PROVIDER_MIRROR": str(tmp_path / "nothing")}) is None


def test_cli_config_installs_hashicorp_providers_from_the_mirror_only(tmp_path):
    mirror = make_mirror(tmp_path)
    text = terraform_mirror.cli_config_text(mirror)
    assert f'path    = "{mirror.as_posix()}"' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in text

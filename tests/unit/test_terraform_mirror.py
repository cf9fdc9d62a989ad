"""The offline provider mirror helpers: the variable first, then standard places; nothing machine-specific."""

from __future__ import annotations

from operations import terraform_mirror


def make_mirror(tmp_path, at="mirror"):
    mirror = tmp_path / at
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


def test_find_prefers_the_variable_then_terraforms_implied_directories(tmp_path):
    configured = make_mirror(tmp_path, "configured")
    implied = make_mirror(tmp_path, "home/.terraform.d/plugins")
    environ = {"HOME": str(tmp_path / "home"), "XDG_DATA_DIRS": str(tmp_path / "none")}
    assert terraform_mirror.find_mirror({**environ, "TF_PROVIDER_MIRROR": str(configured)}) == configured.resolve()
    assert terraform_mirror.find_mirror(environ) == implied
    shared = make_mirror(tmp_path, "share/terraform/plugins")
    elsewhere = {"HOME": str(tmp_path / "nobody"), "XDG_DATA_DIRS": str(tmp_path / "share")}
    assert terraform_mirror.find_mirror(elsewhere) == shared


def test_standard_locations_follow_the_xdg_variables(tmp_path):
    locations = terraform_mirror.standard_locations({"HOME": "/h", "XDG_DATA_HOME": "/data", "XDG_DATA_DIRS": "/a:/b"})
    assert [str(p) for p in locations] == [
        "/h/.terraform.d/plugins",
        "/data/terraform/plugins",
        "/a/terraform/plugins",
        "/b/terraform/plugins",
        "/opt/tf-plugins",
    ]

"""The operator commands' decisions, before any cdktf runs: which steps, in which order, with which
digest and flags; and bad input refused in one line. The commands themselves run for real against the
emulator in tests/emulator/test_operate.py."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from config.environments import DEV, PROD
from operations import build_and_push, operate, release_pointer, terraform_mirror
from tests.support.emulator import in_process_moto

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": "sha256:" + "d" * 64,
            }
        ],
    }
)


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[dict[str, str], str]]:
    """moto with dev's repository holding one image; its environment and that image's digest."""
    with in_process_moto() as endpoint:
        environ = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        ecr = boto3.client(
            "ecr",
            region_name="us-east-1",
            **{k.lower(): v for k, v in environ.items() if k != "AWS_ENDPOINT_URL"},
            endpoint_url=environ["AWS_ENDPOINT_URL"],
        )
        ecr.create_repository(repositoryName=DEV.repository_name)
        image = ecr.put_image(repositoryName=DEV.repository_name, imageManifest=MANIFEST, imageTag="held")["image"]
        yield environ, image["imageId"]["imageDigest"]


@pytest.fixture
def held_digest(aws: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The process talks to the emulator (boto3 reads the environment), in no default region."""
    environ, digest = aws
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return digest


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[str, ...], str | None, tuple[str, ...]]]:
    """What cdktf would have been asked to do (nothing runs)."""
    called: list[tuple[str, tuple[str, ...], str | None, tuple[str, ...]]] = []

    def record(self: Any, command: str, *stacks: str, digest: str | None = None, flags: tuple[str, ...] = ()) -> None:
        called.append((command, stacks, digest, flags))

    monkeypatch.setattr(operate.Cdktf, "__call__", record)
    return called


def run(capsys: pytest.CaptureFixture[str], *argv: str, **environ: str) -> tuple[int, list[str]]:
    code = operate.main(list(argv), environ={"PATH": "/usr/bin:/bin", **environ})
    return code, capsys.readouterr().err.splitlines()


def ssm() -> Any:
    return boto3.client("ssm", region_name=DEV.region)


def test_deploy_by_a_held_digest_skips_the_build_and_records_it_in_the_release_pointer(
    held_digest, steps, capsys
) -> None:
    code, err = run(capsys, "deploy", "--env", "dev", "--digest", held_digest)
    assert (code, err) == (0, [])
    assert steps == [
        ("deploy", (DEV.stack_name,), held_digest, ("--auto-approve", "--ignore-missing-stack-dependencies"))
    ]
    assert ssm().get_parameter(Name=DEV.release_parameter)["Parameter"]["Value"] == held_digest


def test_deploy_releases_between_the_registry_and_the_inference_stack(held_digest, steps, capsys, monkeypatch) -> None:
    monkeypatch.setattr(
        build_and_push, "release", lambda env, ecr, force: steps.append(("release", (env,), None, ())) or held_digest
    )
    code, err = run(capsys, "deploy", "--env", "dev")
    assert (code, err) == (0, [])
    assert [s[0:2] for s in steps] == [
        ("deploy", (DEV.registry_stack_name,)),
        ("release", ("dev",)),
        ("deploy", (DEV.stack_name,)),
    ]
    assert steps[2][2] == held_digest


def test_prod_refuses_an_uncommitted_tree_before_it_changes_anything(held_digest, steps, capsys, monkeypatch) -> None:
    """An adopter's config edit, not yet committed: prod's refusal came after its registry stack was applied."""
    changes = " M config/environments.py\n?? notes.txt\n M a\n M b"
    monkeypatch.setattr(build_and_push, "git", lambda *args: changes if args == ("status", "--porcelain") else "ab")
    code, err = run(capsys, "deploy", "--env", "prod", AUTO_APPROVE="1")
    assert code == 2 and steps == [], "nothing deployed"
    assert err == [
        "error: the working tree has uncommitted changes (config/environments.py, notes.txt, a and 1 more): prod "
        "images are tagged with the commit they are built from (commit them, or FORCE=1 make deploy / --force)"
    ]
    monkeypatch.setattr(build_and_push, "release", lambda env, ecr, force: held_digest)
    code, err = run(capsys, "deploy", "--env", "dev")  # dev's tags are mutable: a dirty tree gets its own tag
    assert code == 0 and [s[1] for s in steps] == [(DEV.registry_stack_name,), (DEV.stack_name,)]


@pytest.mark.parametrize(
    "digest, message",
    [
        ("sha256:" + "0" * 64, f"error: DIGEST=sha256:{'0' * 64} is not in {DEV.repository_name} (it holds"),
        ("latest", "error: DIGEST='latest' is invalid: allowed sha256:<64 lowercase hex digits>"),
    ],
)
def test_rollback_refuses_a_digest_the_repository_does_not_hold(held_digest, steps, capsys, digest, message) -> None:
    code, err = run(capsys, "rollback", "--env", "dev", "--digest", digest)
    assert code == 2 and len(err) == 1 and err[0].startswith(message)
    assert steps == []


def test_rollback_needs_a_digest(held_digest, steps, capsys) -> None:
    assert run(capsys, "rollback", "--env", "dev") == (
        2,
        ["error: rollback needs DIGEST=sha256:... (one the repository holds)"],
    )


def test_prod_asks_for_confirmation_and_refuses_outside_a_terminal(held_digest, steps, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, err = run(capsys, "deploy", "--env", "prod")
    assert code == 2 and err == [
        "error: prod asks for confirmation and this is not a terminal: run it in one, or set AUTO_APPROVE=1"
    ]
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert operate.approval_flags(PROD, {}) == ()  # cdktf shows its plan and asks
    assert operate.approval_flags(PROD, {"AUTO_APPROVE": "1"}) == ("--auto-approve",)
    assert operate.approval_flags(DEV, {}) == ("--auto-approve",)


def test_destroy_keeps_the_registry_unless_asked_and_prod_unless_flagged(held_digest, steps, capsys) -> None:
    assert run(capsys, "destroy", "--env", "dev")[0] == 0
    assert run(capsys, "destroy", "--env", "dev", WITH_REGISTRY="1")[0] == 0
    assert [s[1] for s in steps] == [(DEV.stack_name,), (DEV.stack_name, DEV.registry_stack_name)]
    code, err = run(capsys, "destroy", "--env", "prod", AUTO_APPROVE="1")
    assert code == 2 and err == ["error: destroying prod needs DESTROY_PROD=1 (and AUTO_APPROVE=1 outside a terminal)"]
    assert run(capsys, "destroy", "--env", "prod", AUTO_APPROVE="1", DESTROY_PROD="1")[0] == 0
    assert steps[-1] == ("destroy", (PROD.stack_name,), None, ("--auto-approve",))


def test_diff_plans_against_the_release_pointer_and_refuses_without_one(held_digest, steps, capsys) -> None:
    with contextlib.suppress(ssm().exceptions.ParameterNotFound):
        ssm().delete_parameter(Name=DEV.release_parameter)
    code, err = run(capsys, "diff", "--env", "dev")
    assert (code, err) == (
        2,
        [
            f"error: no release recorded for dev: SSM parameter {DEV.release_parameter} is missing or not a sha256 "
            "digest; run `make deploy ENV=dev` (or `make rollback ENV=dev DIGEST=sha256:...`), "
            "or set INFERENCE_IMAGE_DIGEST=sha256:... for this run"
        ],
    )
    assert steps == []
    release_pointer.write(ssm(), DEV, held_digest)
    assert run(capsys, "diff", "--env", "dev")[0] == 0
    assert steps == [("diff", (DEV.stack_name,), None, ())]  # the stack reads the pointer itself, as by hand


def test_a_refused_rollback_lists_the_images_newest_first_with_their_push_times(held_digest, steps, capsys) -> None:
    ecr = boto3.client("ecr", region_name=DEV.region)
    newer = ecr.put_image(
        repositoryName=DEV.repository_name, imageManifest=MANIFEST.replace("d" * 64, "e" * 64), imageTag="newer"
    )["image"]["imageId"]["imageDigest"]
    try:
        code, err = run(capsys, "rollback", "--env", "dev", "--digest", "sha256:" + "1" * 64)
        assert code == 2 and len(err) == 1
        listed = err[0].split("newest first: ", 1)[1].rstrip(")").split("; ")
        assert [entry.split(" ")[0] for entry in listed] == [newer, held_digest]
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64} pushed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d( \w+)?", e) for e in listed)
    finally:
        ecr.batch_delete_image(repositoryName=DEV.repository_name, imageIds=[{"imageDigest": newer}])


def test_an_unknown_environment_is_one_line(steps, capsys) -> None:
    assert run(capsys, "deploy", "--env", "staging") == (
        2,
        ["error: environment='staging' is invalid: allowed one of ['dev', 'prod']"],
    )


def test_offline_every_cdktf_call_installs_from_the_mirror_even_with_a_cli_config_set(
    tmp_path, monkeypatch, capsys
) -> None:
    """Teams set TF_CLI_CONFIG_FILE for Terraform Cloud credentials (here: a file that does not exist);
    offline, the mirror is the only place the provider can come from, so it wins, and says so."""
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    monkeypatch.setattr(operate, "REPO", tmp_path)
    preset = str(tmp_path / "home" / ".terraformrc")
    cdktf = operate.Cdktf({"TF_PROVIDER_MIRROR": str(mirror), "TF_CLI_CONFIG_FILE": preset})
    config = tmp_path / "build" / "terraformrc"
    assert cdktf.environ["TF_CLI_CONFIG_FILE"] == str(config)
    assert config.read_text() == terraform_mirror.cli_config_text(mirror.resolve())
    assert capsys.readouterr().err.splitlines() == [
        f"note: TF_PROVIDER_MIRROR={mirror} wins over TF_CLI_CONFIG_FILE={preset}: terraform reads {config} "
        "(the mirror) instead"
    ]
    assert cdktf.environ["CHECKPOINT_DISABLE"] == "1"
    assert cdktf.environ["PATH"].split(":")[0] == str(operate.NODE_BIN)  # the project's Node, never the system's
    # already the mirror's configuration: kept, nothing said
    again = operate.Cdktf({"TF_PROVIDER_MIRROR": str(mirror), "TF_CLI_CONFIG_FILE": str(config)})
    assert again.environ["TF_CLI_CONFIG_FILE"] == str(config) and capsys.readouterr().err == ""


def test_the_by_hand_shell_line_exports_what_the_make_targets_use(tmp_path, monkeypatch, capsys) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    monkeypatch.setattr(terraform_mirror, "GENERATED_CONFIG", tmp_path / "build" / "terraformrc")
    environ = {"PATH": "/usr/bin", "TF_PROVIDER_MIRROR": str(mirror), "TF_CLI_ARGS_init": "-backend-config=x=y"}
    lines = terraform_mirror.shell_exports(environ, output=tmp_path / "cdktf.out")
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exports["PATH"] == f"{terraform_mirror.NODE_BIN}:/usr/bin"
    assert exports["CHECKPOINT_DISABLE"] == "1"
    assert exports["CDKTF_SKIP_PROVIDER_LOCK"] == "true"
    assert "CDKTF_IGNORE_MISSING_STACK_DEPENDENCIES" not in exports  # by hand, the flag is given per command
    assert exports["TF_CLI_ARGS_init"] == "'-backend-config=x=y -lockfile=readonly'"
    assert exports["TF_CLI_CONFIG_FILE"] == str(tmp_path / "build" / "terraformrc")
    for stack in (DEV.stack_name, PROD.stack_name, PROD.registry_stack_name):
        lock = tmp_path / "cdktf.out" / "stacks" / stack / terraform_mirror.LOCK_FILE_NAME
        assert lock.read_bytes() == terraform_mirror.LOCK_FILE.read_bytes()


def test_every_cdktf_call_uses_the_committed_lock_file_read_only(tmp_path, monkeypatch) -> None:
    ran: list[tuple[list[str], dict[str, str], str]] = []

    def fake_run(argv: list[str], cwd: Any, env: dict[str, str], check: bool) -> Any:
        lock = tmp_path / "out" / "stacks" / DEV.stack_name / ".terraform.lock.hcl"
        ran.append((argv, env, lock.read_text()))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(operate.subprocess, "run", fake_run)
    monkeypatch.setattr(operate, "REPO", tmp_path)
    for environ in ({}, {"TF_PROVIDER_MIRROR": str(tmp_path / "no-mirror-here")}):
        operate.Cdktf({"CDKTF_OUT": "out", **environ})("diff", DEV.stack_name)
    operate.Cdktf({"CDKTF_OUT": "out", "TF_CLI_ARGS_init": "-backend-config=use_path_style=true"})(
        "diff", DEV.stack_name
    )
    for argv, _env, lock in ran:
        assert "--skip-provider-lock" in argv  # cdktf's `terraform providers lock` would rewrite the lock
        assert lock == terraform_mirror.LOCK_FILE.read_text()
    assert [env["TF_CLI_ARGS_init"] for _, env, _ in ran] == [
        "-lockfile=readonly",
        "-lockfile=readonly",
        "-backend-config=use_path_style=true -lockfile=readonly",  # what the operator gave init is kept
    ]


def test_deploy_stops_at_the_first_failing_step(held_digest, capsys, monkeypatch) -> None:
    ran: list[str] = []

    def registry_fails(self: Any, command: str, *stacks: str, **_: Any) -> None:
        ran.append(f"{command} {' '.join(stacks)}")
        raise operate.StepFailed(f"cdktf {command} {' '.join(stacks)}", 1)

    monkeypatch.setattr(operate.Cdktf, "__call__", registry_fails)

    def release(*args: Any, **kwargs: Any) -> str:
        ran.append("release")
        return held_digest

    monkeypatch.setattr(build_and_push, "release", release)
    code, err = run(capsys, "deploy", "--env", "dev")
    assert (code, err) == (1, [f"error: cdktf deploy {DEV.registry_stack_name} failed (exit 1); nothing after it ran"])
    assert ran == [f"deploy {DEV.registry_stack_name}"]

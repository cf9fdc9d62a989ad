"""The release tool: its ECR side against the emulator, its docker commands through --dry-run, bad input."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.environments import DEV, PROD
from inference.models.silero_vad.parameters import SILERO_VAD
from inference.pinned import BASIC_PITCH
from operations import build_and_push
from tests.support.emulator import emulator_client, in_process_moto

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "b" * 64,
        },
        "layers": [],
    }
)


@pytest.fixture(scope="module")
def ecr() -> Iterator[Any]:
    """moto with the two environments' repositories, as the registry stacks create them."""
    with in_process_moto() as endpoint:
        client = emulator_client(endpoint, "ecr")
        for env in (DEV, PROD):
            client.create_repository(repositoryName=env.repository_name, imageTagMutability=env.registry.tag_mutability)
        yield client


LS_FILES = ("ls-files", "-s", "--", *build_and_push.IMAGE_INPUTS)


def fixed_git(
    monkeypatch: pytest.MonkeyPatch, commit: str, status: str = "", blobs: str = "100644 aa 0\tsrc/x.py"
) -> None:
    """The tool's git answers, fixed: the commit, `git status --porcelain`, the image inputs' blobs."""
    answers = {("rev-parse", "--short=12", "HEAD"): commit, ("status", "--porcelain"): status, LS_FILES: blobs}
    monkeypatch.setattr(build_and_push, "git", lambda *args: answers[args])


@pytest.fixture
def clean_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A committed tree at a known commit (the real git is used by the tool; its answers are fixed here)."""
    fixed_git(monkeypatch, "0123456789ab")


def run(capsys: pytest.CaptureFixture[str], ecr: Any, *argv: str) -> tuple[int, list[str], list[str]]:
    code = build_and_push.main(list(argv), ecr=ecr)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_finds_the_repository_by_name(ecr: Any) -> None:
    repository = build_and_push.find_repository(ecr, DEV.repository_name)
    assert repository.uri == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{DEV.repository_name}"
    assert repository.registry == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert repository.immutable_tags is False
    assert build_and_push.find_repository(ecr, PROD.repository_name).immutable_tags is True


def test_docker_password_comes_from_an_authorization_token(ecr: Any) -> None:
    password = build_and_push.docker_password(ecr, build_and_push.find_repository(ecr, DEV.repository_name))
    assert password and ":" not in password


def test_dry_run_prints_the_exact_release_commands(
    ecr: Any, clean_tree: None, model_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, ecr, "--env", "dev", "--dry-run")
    assert (code, err) == (0, [])
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{DEV.repository_name}"
    content = build_and_push.content_tag(build_and_push.model_build_args(), "linux/amd64")
    assert content.startswith("content-") and len(content) == len("content-") + 20
    login, build = shlex.split(out[1].split("  #")[0]), shlex.split(out[2])
    assert login == ["docker", "login", "--username", "AWS", "--password-stdin", uri.split("/")[0]]
    assert build == [
        "docker",
        "buildx",
        "build",
        "--platform",
        "linux/amd64",
        "--provenance=false",
        "--file",
        "docker/Dockerfile",
        "--build-arg",
        f"MODEL_CHECKSUMS={BASIC_PITCH.sha256}  /opt/models/basic-pitch/{BASIC_PITCH.version}/{BASIC_PITCH.filename};"
        f"{SILERO_VAD.sha256}  /opt/models/silero-vad/{SILERO_VAD.version}/{SILERO_VAD.filename}",
        "--tag",
        f"{uri}:git-0123456789ab",
        "--tag",
        f"{uri}:{content}",
        "--metadata-file",
        "build/image-metadata.json",
        "--push",
        ".",
    ]
    assert out[3] == "make deploy ENV=dev DIGEST=<the pushed digest>"
    assert not any("password" in line and "stdin" not in line for line in out)


def test_releasing_a_commit_again_reuses_its_image_without_docker(
    ecr: Any, model_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed_git(monkeypatch, "a1a1a1a1a1a1")
    pushed = ecr.put_image(repositoryName=PROD.repository_name, imageManifest=MANIFEST, imageTag="git-a1a1a1a1a1a1")
    digest = pushed["image"]["imageId"]["imageDigest"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker: nothing is built
    code, out, err = run(capsys, ecr, "--env", "prod")
    assert (code, err) == (0, [])
    assert out[0].startswith("reused ") and out[0].endswith(
        f"@{digest} (git-a1a1a1a1a1a1 is already pushed): nothing built"
    )
    assert out[-1] == f"deploy it:  make deploy ENV=prod DIGEST={digest}"


def test_a_commit_with_the_same_image_inputs_tags_the_pushed_image(
    ecr: Any, model_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A docs-only commit: its image inputs hash to a content tag prod already holds, so the image gets
    the commit's tag through ECR (prod's tags are immutable: a new tag, no moved one) and nothing builds."""
    fixed_git(monkeypatch, "b2b2b2b2b2b2", blobs="100644 bb 0\tsrc/service/handler.py")
    content = build_and_push.content_tag(build_and_push.model_build_args(), "linux/amd64")
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 1,
        "digest": "sha256:" + "c" * 64,
    }
    manifest = json.dumps({**json.loads(MANIFEST), "layers": [layer]})  # moto's digest hashes the layers
    digest = ecr.put_image(repositoryName=PROD.repository_name, imageManifest=manifest, imageTag=content)["image"][
        "imageId"
    ]["imageDigest"]
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run(capsys, ecr, "--env", "prod")
    assert (code, err) == (0, [])
    assert out[0].endswith(
        f"@{digest} git-b2b2b2b2b2b2 ({content} is already pushed: same image inputs): nothing built"
    )
    tagged = ecr.describe_images(repositoryName=PROD.repository_name, imageIds=[{"imageTag": "git-b2b2b2b2b2b2"}])
    assert [i["imageDigest"] for i in tagged["imageDetails"]] == [digest]
    # Another blob in an image input: another content tag, so a build.
    fixed_git(monkeypatch, "b2b2b2b2b2b3", blobs="100644 bc 0\tsrc/service/handler.py")
    assert build_and_push.content_tag(build_and_push.model_build_args(), "linux/amd64") != content


def test_prod_refuses_a_dirty_tree_unless_forced(
    ecr: Any, model_artifact: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed_git(monkeypatch, "fedcba987654", status=" M README.md")
    code, _, err = run(capsys, ecr, "--env", "prod", "--dry-run")
    assert code == 2 and len(err) == 1 and "uncommitted changes (README.md): prod images" in err[0]
    assert err[0].endswith("(commit them, or FORCE=1 make deploy / --force)")
    code, out, err = run(capsys, ecr, "--env", "prod", "--dry-run", "--force")
    # never the commit's own tag (that names the committed tree's image), never a content tag
    (tag,) = [word.rsplit(":", 1)[1] for word in shlex.split(out[2]) if word.startswith("1234")]
    assert code == 0 and re.fullmatch(r"git-fedcba987654-dirty-\d{14}", tag)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "staging", "--dry-run"], "environment='staging' is invalid: allowed one of ['dev', 'prod']"),
    ],
)
def test_fails_an_unknown_environment_in_one_line(
    ecr: Any, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, ecr, *argv)
    assert (code, out, err) == (2, [], [f"error: {message}"])


def test_fails_a_missing_repository_in_one_line_and_a_dry_run_says_the_deploy_creates_it(
    ecr: Any, clean_tree: None, model_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr.delete_repository(repositoryName=DEV.repository_name, force=True)
    try:
        code, out, err = run(capsys, ecr, "--env", "dev")
        assert code == 2 and out == [] and len(err) == 1 and "deploy inference-dev-registry" in err[0]
        code, out, err = run(capsys, ecr, "--env", "dev", "--dry-run")
        assert (code, err) == (0, [])
        assert out[0] == (
            f"# {DEV.repository_name} does not exist yet: make deploy ENV=dev would create it "
            "(npx cdktf deploy inference-dev-registry) before the build"
        )
        assert f"--tag 123456789012.dkr.ecr.us-east-1.amazonaws.com/{DEV.repository_name}:git-0123456789ab" in out[3]
    finally:
        ecr.create_repository(repositoryName=DEV.repository_name, imageTagMutability="MUTABLE")


def test_fails_without_docker_in_one_line(
    ecr: Any,
    clean_tree: None,
    model_artifact: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker here
    code, out, err = run(capsys, ecr, "--env", "dev")
    assert (code, out) == (2, []) and len(err) == 1 and "docker is not installed" in err[0]


FAKE_DOCKER = """#!/bin/sh
# Records each call (arguments, then stdin for login) and plays buildx's metadata file.
echo "ARGS $*" >> "$DOCKER_LOG"
if [ "$1" = "info" ]; then echo 27.3.1; exit 0; fi
if [ "$1" = "login" ]; then echo "STDIN $(cat)" >> "$DOCKER_LOG"; fi
if [ "$1" = "buildx" ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = "--metadata-file" ]; then printf '{"containerimage.digest": "sha256:%064d"}' 7 > "$2"; fi
    shift
  done
fi
"""


def test_a_release_logs_in_with_the_password_on_stdin_and_prints_the_deploy_command(
    ecr: Any,
    clean_tree: None,
    model_artifact: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("DOCKER_LOG", str(log))
    monkeypatch.setenv("PATH", f"{docker.parent}:/usr/bin:/bin")
    code, out, err = run(capsys, ecr, "--env", "dev")
    assert (code, err) == (0, [])
    password = build_and_push.docker_password(ecr, build_and_push.find_repository(ecr, DEV.repository_name))
    calls = log.read_text().splitlines()
    assert calls.pop(0) == "ARGS info --format {{.ServerVersion}}"
    assert calls[0].startswith("ARGS login --username AWS --password-stdin ") and password not in calls[0]
    assert calls[1] == f"STDIN {password}"
    assert calls[2].startswith("ARGS buildx build --platform linux/amd64 --provenance=false")
    digest = "sha256:" + "0" * 63 + "7"
    assert out[-1] == f"deploy it:  make deploy ENV=dev DIGEST={digest}"
    assert password not in "\n".join(out)


NO_DAEMON_DOCKER = """#!/bin/sh
# The docker CLI without a daemon: what docker itself says then.
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
"""


def test_fails_without_a_docker_daemon_in_one_line_with_dockers_reason(
    ecr: Any,
    clean_tree: None,
    model_artifact: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docker = tmp_path / "docker"
    docker.write_text(NO_DAEMON_DOCKER)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    code, out, err = run(capsys, ecr, "--env", "dev")
    assert (code, out) == (2, [])
    assert err == [
        "error: docker cannot reach its daemon (is it running?): Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?"
    ]


@pytest.mark.parametrize("shell_region", [None, "eu-west-1"])
def test_ecr_is_asked_in_the_environments_region_whatever_the_shells_default(
    monkeypatch: pytest.MonkeyPatch, shell_region: str | None
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    if shell_region:
        monkeypatch.setenv("AWS_DEFAULT_REGION", shell_region)
    assert build_and_push.ecr_client("dev").meta.region_name == DEV.region
    assert build_and_push.ecr_client("prod").meta.region_name == PROD.region

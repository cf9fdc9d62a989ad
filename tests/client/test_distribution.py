"""The client is its own small distribution: installable alone, depending on an HTTP library and
nothing of the server's, and the page's origin is one the local server and dev allow."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from config.environments import DEV
from emulation.local_server import LOCAL_ORIGINS
from tests.support.service import REPO

CLIENT = REPO / "src" / "client"
SERVER_SIDE = ("numpy", "onnxruntime", "boto3", "botocore", "cdktf", "soundfile", "moto", "inference", "service")


def test_the_client_depends_on_http_libraries_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = sorted(requirement.split(">")[0].split("=")[0] for requirement in project["dependencies"])
    assert names == ["requests", "requests-toolbelt", "tqdm"]
    assert project["scripts"] == {"audio-inference": "audio_inference_client.cli:main"}


def test_using_the_client_imports_nothing_of_the_server() -> None:
    probe = (
        "import sys, audio_inference_client, audio_inference_client.cli;"
        f"print(sorted(m for m in {SERVER_SIDE!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_it_installs_on_its_own_in_a_fresh_venv(tmp_path: Path) -> None:
    """`pip install ./src/client` (the README's command, from the real tree) into an empty venv: what comes
    with it, the command runs, and what the build leaves in src/client/ neither dirties the tree (the
    release tool refuses a dirty one) nor reaches mypy (a second copy of the client is a duplicate module)."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    status_before = git_status()
    leftovers = [CLIENT / "build"]
    already_there = {path for path in leftovers if path.exists()}
    try:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "./src/client"],
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=600,
        )
        assert (CLIENT / "build").is_dir(), "setuptools builds in the source tree: the case this test is about"
        assert git_status() == status_before
        typed = subprocess.run(
            [str(REPO / ".venv" / "bin" / "mypy"), "src/client"], cwd=REPO, capture_output=True, text=True
        )
        assert typed.returncode == 0, typed.stdout[-2000:]
    finally:
        for path in leftovers:
            if path not in already_there:
                shutil.rmtree(path, ignore_errors=True)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {line.split("==")[0].lower().replace("_", "-") for line in listed.split()}
    assert installed - {"pip", "setuptools"} == {
        "audio-inference-client", "requests", "requests-toolbelt", "tqdm", "urllib3", "idna", "certifi",
        "charset-normalizer",
    }  # fmt: skip
    helped = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "audio-inference"), "transcribe", "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and "exit codes: 0 ok, 2 bad input, 3 service error, 4 timed out" in helped.stdout


def test_the_local_server_allows_the_origins_dev_allows() -> None:
    """The local server plays the dev stage: the same CORS origins, so what works here works there."""
    assert DEV.api.cors_allowed_origins == LOCAL_ORIGINS


def test_the_clients_parameters_are_the_apis() -> None:
    """The client cannot import the server's names; the contract keeps them in step: /predict's query
    parameters are `model` and every registered model's parameters; each model the client checks
    client-side has its registry entry's (what the service accepts for it), with openapi.yaml's types."""
    import yaml
    from audio_inference_client.client import MODEL_PARAMETERS, PARAMETERS

    from inference.models.registry import get_spec, model_names

    operation = yaml.safe_load((REPO / "openapi.yaml").read_text())["paths"]["/predict"]["post"]
    query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    served = {name for model in model_names() for name in get_spec(model).client_parameters}
    assert served | {"model"} == set(query)
    assert set(MODEL_PARAMETERS) <= set(model_names())  # a model the client does not list goes unchecked
    for model, parameters in MODEL_PARAMETERS.items():
        assert set(parameters) == set(get_spec(model).client_parameters), model
    assert MODEL_PARAMETERS["basic-pitch"] == PARAMETERS  # the name code written before models imports

    components = yaml.safe_load((REPO / "openapi.yaml").read_text())["components"]["schemas"]
    openapi_types = {"number": float, "boolean": bool, "string": str}
    for name, kind in {k: v for names in MODEL_PARAMETERS.values() for k, v in names.items()}.items():
        schema = query[name]
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        assert openapi_types[schema.get("type", "string")] is kind, name

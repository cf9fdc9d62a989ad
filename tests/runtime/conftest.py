"""Fixtures for tests that run the real Basic Pitch model (marked `model` automatically)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.config import load_config
from inference.transcriber import Transcriber


@pytest.fixture(scope="session")
def transcriber(model_artifact: Path) -> Transcriber:
    return Transcriber(load_config(environ={}), artifact=model_artifact)

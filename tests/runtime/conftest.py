"""Fixtures for tests that run the real Basic Pitch model."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from inference.artifact import fetch_pinned
from inference.config import load_config
from inference.errors import InferenceError
from tests.support.components import missing


@pytest.fixture(scope="session")
def model_artifact():
    """The pinned Basic Pitch ONNX file (fetched with `pip download --no-deps` if absent)."""
    try:
        return fetch_pinned("basic-pitch")
    except InferenceError as exc:
        missing(f"the pinned model artifact could not be fetched (run `make model`): {exc}")


@pytest.fixture(scope="session")
def transcriber(model_artifact):
    from inference.transcriber import Transcriber

    return Transcriber(load_config(environ={}), artifact=model_artifact)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()

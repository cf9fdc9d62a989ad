#!/usr/bin/env python
"""Build the cdktf App: a registry stack and an inference stack per environment.

Synth-time overrides (environment variables, for CI pipelines that just
pushed an image): INFERENCE_IMAGE_TAG and INFERENCE_IMAGE_DIGEST.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Mapping

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))

from cdktf import App  # noqa: E402

from config.environments import ENVIRONMENTS, EnvironmentConfig  # noqa: E402
from inference.config import load_config  # noqa: E402
from stacks import InferenceStack, RegistryStack  # noqa: E402
from stacks.base import check_policies  # noqa: E402

IMAGE_TAG_OVERRIDE = "INFERENCE_IMAGE_TAG"
IMAGE_DIGEST_OVERRIDE = "INFERENCE_IMAGE_DIGEST"


def with_synth_overrides(env: EnvironmentConfig, environ: Mapping[str, str]) -> EnvironmentConfig:
    """Apply the image overrides; the dataclasses validate the new values."""
    changes = {}
    if environ.get(IMAGE_TAG_OVERRIDE):
        changes["image_tag"] = environ[IMAGE_TAG_OVERRIDE]
    if environ.get(IMAGE_DIGEST_OVERRIDE):
        changes["image_digest"] = environ[IMAGE_DIGEST_OVERRIDE]
    if not changes:
        return env
    return dataclasses.replace(env, function=dataclasses.replace(env.function, **changes))


def build_app(outdir: str | None = None, environ: Mapping[str, str] | None = None) -> App:
    environ = os.environ if environ is None else environ
    app = App(outdir=outdir) if outdir else App()
    # The stacks copy the file's values, not this process's overrides, into the function.
    inference = load_config(environ={})
    for env in ENVIRONMENTS.values():
        env = with_synth_overrides(env, environ)
        RegistryStack(app, env)
        InferenceStack(app, env, inference)
    return app


if __name__ == "__main__":
    app = build_app()
    app.synth()
    check_policies(app)

#!/usr/bin/env python
"""Build the cdktf App: a registry stack and an inference stack per environment.

The image: INFERENCE_IMAGE_DIGEST at synth time (what `make deploy`/`make rollback` set), else
function.image_digest, else the environment's release pointer, an SSM parameter each inference stack
reads at plan time in its own account (operations/release_pointer.py). Never a tag.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from cdktf import App

from config.environments import ENVIRONMENTS
from config.schema import EnvironmentConfig
from contract import env_names
from inference.config import load_config
from stacks import InferenceStack, RegistryStack
from stacks.base import check_policies

IMAGE_DIGEST_OVERRIDE = env_names.SYNTH_IMAGE_DIGEST


def with_synth_overrides(env: EnvironmentConfig, environ: Mapping[str, str]) -> EnvironmentConfig:
    """Apply the image override; the dataclasses validate the new value."""
    function = env.function
    if environ.get(IMAGE_DIGEST_OVERRIDE):
        function = dataclasses.replace(function, image_digest=environ[IMAGE_DIGEST_OVERRIDE])
    return env if function is env.function else dataclasses.replace(env, function=function)


def build_app(outdir: str | None = None, environ: Mapping[str, str] | None = None) -> App:
    environ = os.environ if environ is None else environ
    app = App(outdir=outdir) if outdir else App()
    # The stacks copy the file's values, not this process's overrides, into the function.
    inference = load_config(environ={})
    for env in ENVIRONMENTS.values():
        env = with_synth_overrides(env, environ)
        registry = RegistryStack(app, env)
        # cdktf deploys the registry first and destroys it last (the function's image lives there).
        InferenceStack(app, env, inference).add_dependency(registry)
    return app


if __name__ == "__main__":
    app = build_app()
    app.synth()
    check_policies(app)

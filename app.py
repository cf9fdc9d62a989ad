#!/usr/bin/env python
"""Build the cdktf App: a registry stack and an inference stack per environment.

The image: INFERENCE_IMAGE_DIGEST at synth time (what `make deploy`/`make rollback` set), else
function.image_digest, else the environment's release pointer, an SSM parameter each inference stack
reads at plan time in its own account (operations/release_pointer.py). Never a tag.
The state bucket: state.bucket, else named per account and region from the credentials at hand
(operations/state_bucket.py); build_app without an account leaves it to `terraform init -backend-config`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping

from cdktf import App

from config.environments import ENVIRONMENTS
from config.schema import EnvironmentConfig, S3StateBackend
from contract import env_names
from inference.config import load_config
from stacks import InferenceStack, RegistryStack
from stacks.base import check_policies

IMAGE_DIGEST_OVERRIDE = env_names.SYNTH_IMAGE_DIGEST


def with_synth_overrides(
    env: EnvironmentConfig, environ: Mapping[str, str], state_account: str | None = None
) -> EnvironmentConfig:
    """Apply the image override and name a derived state bucket in `state_account`; the dataclasses validate."""
    function = env.function
    if environ.get(IMAGE_DIGEST_OVERRIDE):
        function = dataclasses.replace(function, image_digest=environ[IMAGE_DIGEST_OVERRIDE])
    if function is not env.function:
        env = dataclasses.replace(env, function=function)
    if state_account and isinstance(env.state, S3StateBackend) and env.state.bucket is None:
        env = dataclasses.replace(env, state=dataclasses.replace(env.state, bucket=env.state_bucket(state_account)))
    return env


def build_app(
    outdir: str | None = None, environ: Mapping[str, str] | None = None, state_account: str | None = None
) -> App:
    """Every environment's stacks; `state_account` names derived state buckets (None: left to terraform init)."""
    environ = os.environ if environ is None else environ
    app = App(outdir=outdir) if outdir else App()
    # The stacks copy the file's values, not this process's overrides, into the function.
    inference = load_config(environ={})
    for env in ENVIRONMENTS.values():
        env = with_synth_overrides(env, environ, state_account)
        registry = RegistryStack(app, env)
        # cdktf deploys the registry first and destroys it last (the function's image lives there).
        InferenceStack(app, env, inference).add_dependency(registry)
    return app


if __name__ == "__main__":
    from operations import state_bucket

    account, note = state_bucket.account_for(ENVIRONMENTS.values())
    if note:
        print(note, file=sys.stderr)
    app = build_app(state_account=account)
    app.synth()
    check_policies(app)

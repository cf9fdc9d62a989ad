"""The deployment environments: `DEV` and `PROD` are two values of `config.schema`'s types.

Environment differences are data: the same stack classes are instantiated with
each value, and only the fields that differ from the schema's defaults are
written here.
"""

from __future__ import annotations

from config.schema import (
    ApiConsumer,
    ApiSettings,
    EnvironmentConfig,
    FunctionSettings,
    RegistrySettings,
    S3StateBackend,
    StorageSettings,
    WafSettings,
)
from contract.validation import ConfigError

DEV = EnvironmentConfig(
    name="dev",
    log_retention_days=7,
    models=("basic-pitch", "silero-vad"),  # registered models served; docs/models.md
    function=FunctionSettings(reserved_concurrency=2, log_level="DEBUG"),
    api=ApiSettings(
        cors_allowed_origins=("*",),
        allow_wildcard_origin=True,
        api_key_required=True,  # a public URL: dev is keyed too (the local server stays keyless)
        consumers=(ApiConsumer(name="developers"),),
    ),
    storage=StorageSettings(
        input_expiry_days=3, output_expiry_days=7, output_noncurrent_expiry_days=7, force_destroy=True
    ),
    registry=RegistrySettings(tag_mutability="MUTABLE", keep_tagged_images=5, force_delete=True),
)

PROD = EnvironmentConfig(
    name="prod",
    log_retention_days=30,
    models=("basic-pitch", "silero-vad"),
    function=FunctionSettings(reserved_concurrency=20),
    api=ApiSettings(
        cors_allowed_origins=("https://app.example.com",),
        api_key_required=True,
        consumers=(
            ApiConsumer(name="web-app"),
            ApiConsumer(name="batch-partner", throttle_rate_limit=5.0, throttle_burst_limit=10, quota_limit=5000),
        ),
        throttle_rate_limit=20.0,
        throttle_burst_limit=40,
        quota_limit=50_000,
    ),
    storage=StorageSettings(input_expiry_days=7, output_expiry_days=90, output_noncurrent_expiry_days=30),
    registry=RegistrySettings(tag_mutability="IMMUTABLE", keep_tagged_images=20),
    waf=WafSettings(enabled=True, rate_limit_per_5_min=6000),
    state=S3StateBackend(
        bucket="audio-inference-terraform-state", key_prefix="audio-inference/prod/", region="us-east-1"
    ),
    # ci=CiIdentities(repository="<owner>/<name>"): off until a team names its GitHub repository; then
    # `make bootstrap ENV=prod` makes the OIDC provider and the plan and deploy roles
    # (docs/operations.md, CI/CD for adopters).
    ci=None,
)

ENVIRONMENTS: dict[str, EnvironmentConfig] = {env.name: env for env in (DEV, PROD)}


def get_environment(name: str) -> EnvironmentConfig:
    """The named environment, or an error listing the known ones."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise ConfigError("environment", name, f"one of {sorted(ENVIRONMENTS)}") from None

"""The deployment environments: `DEV` and `PROD` are two values of `config.schema`'s types.

Environment differences are data: the same stack classes are instantiated with
each value, and only the fields that differ from the schema's defaults are
written here. What an adopter chooses is the block of ADOPTER CHOICES below, in one place: the
README's "Adopt it" checklist names each of them (tests/unit/test_docs.py walks it).
"""

from __future__ import annotations

from config.schema import (
    ApiConsumer,
    ApiSettings,
    CiIdentities,
    EnvironmentConfig,
    FunctionSettings,
    RegistrySettings,
    S3StateBackend,
    StorageSettings,
    WafSettings,
)
from contract.validation import ConfigError

# --- ADOPTER CHOICES: everything an adopting team changes is here ---------------------------------
PROJECT = "audio-inference"
"""Resource names (`<project>-<env>-...`), the ECR repositories (`<project>/<env>`), the `Project` tag."""
REGION = "us-east-1"
"""Both environments' region, and the state bucket's; the workflows read it from here."""
STATE_BUCKET: str | None = None
"""Prod's Terraform state bucket (`make bootstrap ENV=prod` makes it). None: `<project>-tfstate-<account>-<region>`,
named per account and region from the credentials at hand, as `cdk bootstrap` names its own; or name one."""
GITHUB_REPOSITORY: str | None = None
"""`<owner>/<name>` of the repository whose workflows deploy (CI roles via `make bootstrap`); None: no CI."""
PROD_CORS_ORIGINS = ("https://app.example.com",)
"""The origins whose pages may call prod (a placeholder until you name your site's)."""
DEV_CONSUMERS = (ApiConsumer(name="developers"),)
PROD_CONSUMERS = (
    ApiConsumer(name="web-app"),
    ApiConsumer(
        name="batch-partner",
        throttle_rate_limit=5.0,
        throttle_burst_limit=10,
        quota_limit=5000,
        max_jobs_in_flight=5,  # half web-app's share of the workers while both keep their queue full
        max_audio_hours_per_day=200,
    ),
)
"""Who gets API keys (`make keys ENV=<env> ACTION=create CONSUMER=<name>` makes and shows one)."""
# ---------------------------------------------------------------------------------------------------

DEV = EnvironmentConfig(
    name="dev",
    project=PROJECT,
    region=REGION,
    log_retention_days=7,
    models=("basic-pitch", "silero-vad"),  # registered models served; docs/models.md
    function=FunctionSettings(reserved_concurrency=2, log_level="DEBUG"),
    api=ApiSettings(
        cors_allowed_origins=("*",),
        allow_wildcard_origin=True,
        api_key_required=True,  # a public URL: dev is keyed too (the local server stays keyless)
        consumers=DEV_CONSUMERS,
    ),
    storage=StorageSettings(
        input_expiry_days=3, output_expiry_days=7, output_noncurrent_expiry_days=7, force_destroy=True
    ),
    registry=RegistrySettings(tag_mutability="MUTABLE", keep_tagged_images=5, force_delete=True),
)

PROD = EnvironmentConfig(
    name="prod",
    project=PROJECT,
    region=REGION,
    log_retention_days=30,
    models=("basic-pitch", "silero-vad"),
    function=FunctionSettings(reserved_concurrency=20),
    api=ApiSettings(
        cors_allowed_origins=PROD_CORS_ORIGINS,
        api_key_required=True,
        consumers=PROD_CONSUMERS,
        throttle_rate_limit=20.0,
        throttle_burst_limit=40,
        quota_limit=50_000,
    ),
    storage=StorageSettings(input_expiry_days=7, output_expiry_days=90, output_noncurrent_expiry_days=30),
    registry=RegistrySettings(tag_mutability="IMMUTABLE", keep_tagged_images=20),
    waf=WafSettings(enabled=True, rate_limit_per_5_min=6000),
    state=S3StateBackend(bucket=STATE_BUCKET, key_prefix=f"{PROJECT}/prod/", region=REGION),
    # ci: off until GITHUB_REPOSITORY names the repository; then `make bootstrap ENV=prod` makes the OIDC
    # provider and the plan and deploy roles (docs/operations.md, CI/CD for adopters).
    ci=CiIdentities(repository=GITHUB_REPOSITORY) if GITHUB_REPOSITORY else None,
)

ENVIRONMENTS: dict[str, EnvironmentConfig] = {env.name: env for env in (DEV, PROD)}


def get_environment(name: str) -> EnvironmentConfig:
    """The named environment, or an error listing the known ones."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise ConfigError("environment", name, f"one of {sorted(ENVIRONMENTS)}") from None

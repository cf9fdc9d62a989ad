"""Construct props for tests that build one construct alone: the dev environment's values, then the test's.

Constructs take every environment-driven value explicitly (their defaults live in `config.schema`
only), so a test that builds a function or an API outside a stack fills them in from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.environments import DEV

if TYPE_CHECKING:
    from infra_constructs.container_function import ContainerFunctionProps
    from infra_constructs.rest_api import RestApiProps

BOUNDARY_ARN = f"arn:aws:iam::123456789012:policy/{DEV.permissions_boundary_name}"
"""What a construct built alone names as its roles' boundary (a stack derives it from the account)."""


def function_props(**explicit: Any) -> ContainerFunctionProps:
    from infra_constructs.container_function import ContainerFunctionProps

    settings = DEV.function
    values: dict[str, Any] = {
        "memory_mb": settings.memory_mb,
        "timeout_s": settings.timeout_s,
        "ephemeral_storage_mb": settings.ephemeral_storage_mb,
        "architecture": settings.architecture,
        "reserved_concurrency": settings.reserved_concurrency,
        "log_retention_days": DEV.log_retention_days,
        "permissions_boundary_arn": BOUNDARY_ARN,
    }
    return ContainerFunctionProps(**{**values, **explicit})


def rest_api_props(**explicit: Any) -> RestApiProps:
    from infra_constructs.rest_api import RestApiProps

    api = DEV.api
    values: dict[str, Any] = {
        "stage_name": api.stage_name,
        "cors_allowed_origins": api.cors_allowed_origins,
        "api_key_required": api.api_key_required,
        "throttle_rate_limit": api.throttle_rate_limit,
        "throttle_burst_limit": api.throttle_burst_limit,
        "quota_limit": api.quota_limit,
        "quota_period": api.quota_period,
        "stage_throttle_rate_limit": api.stage_throttle_rate_limit,
        "stage_throttle_burst_limit": api.stage_throttle_burst_limit,
        "custom_domain": api.custom_domain,
        "certificate_arn": api.certificate_arn,
        "log_retention_days": DEV.log_retention_days,
        "manage_account_logging_role": api.manage_account_logging_role,
        "permissions_boundary_arn": BOUNDARY_ARN,
    }
    return RestApiProps(**{**values, **explicit})

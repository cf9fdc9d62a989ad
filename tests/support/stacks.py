"""Reading synthesized stacks: which stacks the app builds, and their resources by type and path."""

from __future__ import annotations

from typing import Any

from config.environments import ENVIRONMENTS

Stack = dict[str, Any]


def stack_names() -> tuple[str, ...]:
    """Every stack the app builds: a registry and an inference stack per environment."""
    return tuple(name for env in ENVIRONMENTS.values() for name in (env.stack_name, env.registry_stack_name))


def resources_of(stack: Stack, resource_type: str) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = stack.get("resource", {}).get(resource_type, {})
    return resources


def one_resource(stack: Stack, resource_type: str, path_suffix: str = "") -> dict[str, Any]:
    """The single resource of a type (optionally whose construct path ends with `path_suffix`)."""
    found = [
        r for r in resources_of(stack, resource_type).values() if r["//"]["metadata"]["path"].endswith(path_suffix)
    ]
    assert len(found) == 1, f"expected one {resource_type} ending {path_suffix!r}, found {len(found)}"
    return found[0]


def managed_resource_count(stack: Stack) -> int:
    """How many resources Terraform creates for the stack (data sources excluded)."""
    return sum(len(of_type) for of_type in stack.get("resource", {}).values())


def policy_statements(stack: Stack, document_path_suffix: str) -> list[dict[str, Any]]:
    """The statements of the one aws_iam_policy_document whose construct path ends with the suffix."""
    documents = [
        d
        for d in stack["data"]["aws_iam_policy_document"].values()
        if d["//"]["metadata"]["path"].endswith(document_path_suffix)
    ]
    assert len(documents) == 1, document_path_suffix
    statements: list[dict[str, Any]] = documents[0]["statement"]
    return statements

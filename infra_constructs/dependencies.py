"""Explicit Terraform dependencies added after a resource was created.

cdktf renders `depends_on` given at construction as plain addresses; a list
set later must already hold addresses (a resource's `fqn` would render as an
interpolation, which Terraform rejects there). Constructs that learn of a
dependency late (a grant after the function, a route after the deployment)
use these helpers.
"""

from __future__ import annotations

from cdktf import TerraformResource


def address(resource: TerraformResource) -> str:
    """`<type>.<logical id>`, as depends_on lists a resource."""
    return f"{resource.terraform_resource_type}.{resource.friendly_unique_id}"


def add_dependency(resource: TerraformResource, dependency: TerraformResource) -> None:
    """Let `resource` wait for `dependency`, after whatever it already waits for."""
    resource.depends_on = [*(resource.depends_on or []), address(dependency)]

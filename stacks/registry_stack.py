"""inference-<env>-registry: the ECR repository, deployed before the image is pushed."""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from config.environments import EnvironmentConfig
from infra_constructs.image_repository import ImageRepository, ImageRepositoryProps
from stacks.base import EnvironmentStack


class RegistryStack(EnvironmentStack):
    def __init__(self, scope: Construct, env: EnvironmentConfig) -> None:
        super().__init__(scope, env.registry_stack_name, env)
        registry = ImageRepository(
            self,
            "image-repository",
            ImageRepositoryProps(
                name=env.repository_name,
                tag_mutability=env.registry.tag_mutability,
                keep_tagged_images=env.registry.keep_tagged_images,
                untagged_expiry_days=env.registry.untagged_expiry_days,
                force_delete=env.registry.force_delete,
            ),
        )
        TerraformOutput(self, "repository_url", value=registry.repository.repository_url)
        TerraformOutput(self, "repository_name", value=registry.repository.name)

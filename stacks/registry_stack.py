"""inference-<env>-registry: the ECR repository, deployed before the image is pushed."""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from config.schema import EnvironmentConfig
from infra_constructs.image_repository import ImageRepository, ImageRepositoryProps
from stacks.base import EnvironmentStack, encryption_key, props_from


class RegistryStack(EnvironmentStack):
    def __init__(self, scope: Construct, env: EnvironmentConfig) -> None:
        super().__init__(scope, env.registry_stack_name, env)
        key = encryption_key(self, env)
        props = props_from(
            ImageRepositoryProps, env.registry, name=env.repository_name, kms_key_arn=key.arn if key else None
        )
        registry = ImageRepository(self, "image-repository", props)
        TerraformOutput(self, "repository_url", value=registry.repository.repository_url)
        TerraformOutput(self, "repository_name", value=registry.repository.name)

"""inference-<env>-registry: the ECR repository, deployed before the image is pushed."""

from __future__ import annotations

from cdktf import TerraformOutput
from constructs import Construct

from config.schema import EnvironmentConfig
from infra_constructs.image_repository import ImageRepository, ImageRepositoryProps
from stacks.base import EnvironmentStack, encryption_key


class RegistryStack(EnvironmentStack):
    def __init__(self, scope: Construct, env: EnvironmentConfig) -> None:
        super().__init__(scope, env.registry_stack_name, env)
        key = encryption_key(self, env)
        registry = env.registry
        props = ImageRepositoryProps(
            name=env.repository_name,
            tag_mutability=registry.tag_mutability,
            keep_tagged_images=registry.keep_tagged_images,
            untagged_expiry_days=registry.untagged_expiry_days,
            force_delete=registry.force_delete,
            kms_key_arn=key.arn if key else None,
        )
        repository = ImageRepository(self, "image-repository", props)
        TerraformOutput(self, "repository_url", value=repository.repository.repository_url)
        TerraformOutput(self, "repository_name", value=repository.repository.name)

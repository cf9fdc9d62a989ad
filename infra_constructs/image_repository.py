"""The ECR repository the functions' container image is pushed to, and its URL as a plan can know it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from constructs import Construct

from infra_constructs.service_role import current_account


@dataclass(frozen=True, kw_only=True)
class ImageRepositoryProps:
    name: str
    """Repository name, e.g. audio-inference/dev."""
    tag_mutability: str
    """MUTABLE lets a push move a tag; IMMUTABLE: a tag always means one image."""
    keep_tagged_images: int
    """Newest tagged images kept; older ones expire."""
    untagged_expiry_days: int
    """Untagged images expire this many days after push."""
    kms_key_arn: str | None = None
    """Encrypt images with this customer-managed key; left out: AES256 (AWS-managed)."""
    force_delete: bool
    """Let destroy delete a repository that still holds images."""


def lifecycle_policy_document(props: ImageRepositoryProps) -> str:
    """The ECR lifecycle policy as JSON: untagged first, then the tagged count."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {props.untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": props.untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {props.keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": props.keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


class ImageRepository(Construct):
    """The repository with scan on push, encryption and a lifecycle policy (its own stack: push before deploy)."""

    def __init__(self, scope: Construct, id_: str, props: ImageRepositoryProps) -> None:
        super().__init__(scope, id_)
        self.repository = EcrRepository(
            self,
            "repository",
            name=props.name,
            image_tag_mutability=props.tag_mutability,
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[
                EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=props.kms_key_arn)
                if props.kms_key_arn
                else EcrRepositoryEncryptionConfiguration(encryption_type="AES256")
            ],
            force_delete=props.force_delete,
        )
        EcrLifecyclePolicy(
            self, "lifecycle-policy", repository=self.repository.name, policy=lifecycle_policy_document(props)
        )


def repository_url(scope: Construct, *, repository_name: str, region: str) -> str:
    """The URL ECR gives `repository_name` in the deploying account and `region`.

    Built from the caller's account and the partition's DNS suffix, which any
    plan can read, instead of looking the repository up: a first
    `cdktf diff` on a fresh account then works before the registry stack exists.
    """
    account, partition = current_account(scope)
    return f"{account.account_id}.dkr.ecr.{region}.{partition.dns_suffix}/{repository_name}"

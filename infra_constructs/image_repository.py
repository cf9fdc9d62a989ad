"""The ECR repository the function's container image is pushed to."""

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


@dataclass(frozen=True, kw_only=True)
class ImageRepositoryProps:
    name: str
    """Repository name, e.g. audio-inference/dev."""
    tag_mutability: str = "IMMUTABLE"
    """MUTABLE lets a push move a tag; left out: IMMUTABLE (a tag always means one image)."""
    keep_tagged_images: int = 10
    """Newest tagged images kept; older ones expire."""
    untagged_expiry_days: int = 3
    """Untagged images expire this many days after push."""
    force_delete: bool = False
    """Let destroy delete a repository that still holds images; left out: refuse."""


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
    def __init__(self, scope: Construct, id_: str, props: ImageRepositoryProps) -> None:
        super().__init__(scope, id_)
        self.repository = EcrRepository(
            self,
            "repository",
            name=props.name,
            image_tag_mutability=props.tag_mutability,
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="AES256")],
            force_delete=props.force_delete,
        )
        EcrLifecyclePolicy(
            self, "lifecycle-policy", repository=self.repository.name, policy=lifecycle_policy_document(props)
        )

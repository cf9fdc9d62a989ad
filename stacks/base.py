"""What every stack of an environment shares: the AWS provider and the state backend."""

from __future__ import annotations

from cdktf import Aspects, LocalBackend, S3Backend, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from config.schema import EnvironmentConfig, S3StateBackend
from infra_constructs.encryption_key import EncryptionKey, EncryptionKeyProps
from infra_constructs.policy_aspect import PolicyViolationError, ProjectPolicies


class EnvironmentStack(TerraformStack):
    """A TerraformStack with the environment's provider, default tags and backend."""

    def __init__(self, scope: Construct, stack_name: str, env: EnvironmentConfig) -> None:
        super().__init__(scope, stack_name)
        self.env = env
        self.policies = ProjectPolicies()
        Aspects.of(self).add(self.policies)
        AwsProvider(self, "aws", region=env.region, default_tags=[AwsProviderDefaultTags(tags=env.all_tags)])
        state = env.state
        if isinstance(state, S3StateBackend):
            backend = S3Backend(
                self,
                bucket=state.bucket or "named-at-init",
                key=f"{state.key_prefix}{stack_name}.tfstate",
                region=state.region,
                encrypt=True,
            )
            if state.bucket is None:
                # Named per account (app.py names it when it knows the account): a partial configuration,
                # which `terraform init -backend-config=bucket=<name>` completes.
                backend.add_override("bucket", None)
            # S3-native locking (Terraform >= 1.10); the prebuilt bindings predate the argument.
            backend.add_override("use_lockfile", True)
        else:
            LocalBackend(self, path=state.path if state else local_state_path(stack_name))


STATE_DIR = ".state"
"""Where local state lives, beside the synth output folder (the repository root for `cdktf.out`)."""


def local_state_path(stack_name: str) -> str:
    """The stack's local state file, relative to the folder terraform runs in (<out>/stacks/<stack>/).

    Three levels up is the folder that holds the synth output, so the state lands in <repo>/.state/:
    outside cdktf.out/, which `make clean`, a re-synth or a fresh checkout of the output replaces.
    Relative, so the synthesized JSON stays the same on every machine.
    """
    return f"../../../{STATE_DIR}/{stack_name}.tfstate"


def encryption_key(
    stack: EnvironmentStack,
    env: EnvironmentConfig,
    *,
    for_bucket_notifications: bool = False,
    for_alarm_notifications: bool = False,
) -> EncryptionKey | None:
    """The stack's customer-managed key, when the environment wants one (alias <project>-<env>-<stack>)."""
    if not env.encryption.customer_managed_key:
        return None
    alias = f"{env.resource_prefix}-{stack.node.id.removeprefix(f'inference-{env.name}').strip('-') or 'data'}"
    return EncryptionKey(
        stack,
        "encryption-key",
        EncryptionKeyProps(
            alias=alias,
            region=env.region,
            resource_prefix=env.resource_prefix,
            deletion_window_days=env.encryption.key_deletion_window_days,
            for_bucket_notifications=for_bucket_notifications,
            for_alarm_notifications=for_alarm_notifications,
        ),
    )


def check_policies(scope: Construct) -> None:
    """After synth: raise PolicyViolationError listing every violation in every stack."""
    violations = [
        v for child in scope.node.children if isinstance(child, EnvironmentStack) for v in child.policies.violations
    ]
    if violations:
        raise PolicyViolationError("policy violations:\n  " + "\n  ".join(violations))

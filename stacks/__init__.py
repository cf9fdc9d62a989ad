"""Per-environment stacks: each composes constructs from one EnvironmentConfig."""

from stacks.inference_stack import InferenceStack
from stacks.registry_stack import RegistryStack

__all__ = ["InferenceStack", "RegistryStack"]

"""Typed, validated settings for each deployment environment."""

from config.environments import ENVIRONMENTS, EnvironmentConfig, get_environment

__all__ = ["ENVIRONMENTS", "EnvironmentConfig", "get_environment"]

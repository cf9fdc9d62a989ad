"""Typed, validated settings for each deployment environment.

`config.schema` holds the types (each default written once), `config.capacity` the jobs' arithmetic,
`config.environments` the values of dev and prod.
"""

from config.environments import ENVIRONMENTS, get_environment
from config.schema import EnvironmentConfig

__all__ = ["ENVIRONMENTS", "EnvironmentConfig", "get_environment"]

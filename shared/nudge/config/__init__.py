"""Marketer config: YAML files -> validated models -> compiled rules (once per container)."""

from __future__ import annotations

from functools import lru_cache

from nudge.config.compiled import CompiledConfig, CompiledTrigger, load_config
from nudge.config.raw import ConfigError, ConfigInvalid

__all__ = [
    "CompiledConfig",
    "CompiledTrigger",
    "ConfigError",
    "ConfigInvalid",
    "get_config",
    "load_config",
]


@lru_cache(maxsize=4)
def get_config(directory: str) -> CompiledConfig:
    """The compiled config for ``directory``, built once per container."""
    return load_config(directory)

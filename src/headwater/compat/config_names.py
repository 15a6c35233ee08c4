"""``metaflow.user_configs.config_parameters``: where Metaflow defines ``Config``, ``ConfigValue``
and ``config_expr``; flows and type hints import ``ConfigValue`` from here."""

from __future__ import annotations

from headwater.flow.config import Config, ConfigValue, config_expr

__all__ = ["Config", "ConfigValue", "config_expr"]

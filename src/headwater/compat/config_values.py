"""``metaflow.metaflow_config``: the values ``metaflow_extensions`` packages add to it, and the
few of Metaflow's own settings a flow reads to decide what to do.

Metaflow's settings in general have no meaning here (headwater's live in
``headwater.settings``); a flow or a plug-in reads from this module the extra values its
organisation's ``config`` extension point defines (``from metaflow.metaflow_config import
MY_ORG_VALUE``). A handful of Metaflow's settings are read by public flows only to see whether
something is configured (``if OTEL_ENDPOINT: ...``); those are served as Metaflow computes them
from its environment variable, with its default when the variable is unset (:data:`ENV_SETTINGS`).
An extension package's value of the same name wins, as it does in Metaflow.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__: list[str] = []

# name -> the default when METAFLOW_<name> is unset. Only settings whose meaning does not depend
# on a Metaflow installation (an endpoint, a namespace, a role): a value here never claims that
# headwater stores or runs anything where Metaflow would.
ENV_SETTINGS: dict[str, Any] = {
    "OTEL_ENDPOINT": None,
    "ZIPKIN_ENDPOINT": None,
    "CONSOLE_TRACE_ENABLED": False,
    "DATATOOLS_S3ROOT": None,
    "SERVICE_URL": None,
    "SERVICE_HEADERS": {},
    "DEFAULT_SECRETS_ROLE": None,
    "KUBERNETES_NAMESPACE": "default",
}


def env_setting(name: str) -> Any:
    """Metaflow's setting ``name`` from ``METAFLOW_<name>``: a JSON text for a setting whose
    default is a dict or a list, true/false for a flag, else the text as given."""
    default = ENV_SETTINGS[name]
    raw = os.environ.get(f"METAFLOW_{name}")
    if raw is None:
        return default.copy() if isinstance(default, (dict, list)) else default
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes")
    if isinstance(default, (dict, list)):
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError(f"METAFLOW_{name} must be JSON text (a "
                             f"{type(default).__name__}); got {raw!r}") from None
    return raw


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from headwater.compat.extension_points import config_value

    try:
        return config_value(name)
    except AttributeError:
        if name in ENV_SETTINGS:
            return env_setting(name)
        raise AttributeError(
            f"module 'metaflow.metaflow_config' has no attribute {name!r} (headwater serves "
            "the values metaflow_extensions packages add to it, and of Metaflow's own settings "
            f"only {', '.join(sorted(ENV_SETTINGS))})") from None

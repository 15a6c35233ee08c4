"""``metaflow.metaflow_config``: the values ``metaflow_extensions`` packages add to it.

Metaflow's own settings have no meaning here (headwater's live in ``headwater.settings``); a
flow or a plug-in reads from this module the extra values its organisation's ``config``
extension point defines (``from metaflow.metaflow_config import MY_ORG_VALUE``).
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from headwater.compat.extension_points import config_value

    try:
        return config_value(name)
    except AttributeError:
        raise AttributeError(
            f"module 'metaflow.metaflow_config' has no attribute {name!r} (headwater serves "
            "only the values metaflow_extensions packages add to it)") from None

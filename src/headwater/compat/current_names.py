"""``metaflow.metaflow_current``: where some flows import ``current`` from."""

from headwater.flow.current import Current, current

__all__ = ["Current", "current"]

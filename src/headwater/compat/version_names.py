"""``metaflow.metaflow_version``: what test harnesses and tools ask for to print "which Metaflow"."""

from __future__ import annotations

from headwater.version import METAFLOW_API_VERSION


def get_version(public: bool = False) -> str:
    """The version ``metaflow.__version__`` reports; ``public`` is accepted for Metaflow's
    signature and changes nothing (headwater has no internal build suffix to hide)."""
    return METAFLOW_API_VERSION


__all__ = ["get_version"]

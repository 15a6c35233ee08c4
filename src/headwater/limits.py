"""The process's soft resource limits (``ulimit -n``, ``ulimit -v``), read one way for every
layer that explains running out of something.

:mod:`resource` is imported with this module, early: importing it once descriptors or memory
have run out (the moment these limits are wanted) could itself fail.
"""

from __future__ import annotations

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]


def soft_limit(which: str) -> int | None:
    """The soft limit ``resource.RLIMIT_<which>`` (``"NOFILE"``, ``"AS"``), or None when there
    is none, or it cannot be read on this system."""
    if resource is None:
        return None
    try:
        soft = resource.getrlimit(getattr(resource, f"RLIMIT_{which}"))[0]
    except (AttributeError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft

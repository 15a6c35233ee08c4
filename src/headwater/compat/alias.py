"""Serve ``import metaflow`` from headwater inside one process.

Only ``sys.modules`` of the calling process changes; the real ``metaflow`` package, if installed,
is neither imported nor touched. Tasks forked from this process inherit the alias.
"""

from __future__ import annotations

import sys
import types


def install() -> None:
    """Make ``metaflow``, ``metaflow.exception`` and ``metaflow.cards`` resolve to headwater."""
    from headwater.compat import cards, exception_names, metaflow_api

    package = types.ModuleType("metaflow", metaflow_api.__doc__)
    package.__dict__.update({k: getattr(metaflow_api, k) for k in metaflow_api.__all__})
    package.__version__ = metaflow_api.__version__
    package.__path__ = []  # a package, so submodule imports are looked up in sys.modules
    package.exception = exception_names
    package.cards = cards
    sys.modules["metaflow"] = package
    sys.modules["metaflow.exception"] = exception_names
    sys.modules["metaflow.cards"] = cards

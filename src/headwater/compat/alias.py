"""Serve ``import metaflow`` from headwater inside one process.

Only ``sys.modules`` of the calling process changes; the real ``metaflow`` package, if installed,
is neither imported nor touched. Tasks forked from this process inherit the alias.
"""

from __future__ import annotations

import re
import sys
import types

_IMPORTS_METAFLOW = re.compile(r"^\s*(from|import)\s+metaflow\b", re.MULTILINE)


def imports_metaflow(source: str) -> bool:
    """Whether a flow file's ``source`` imports ``metaflow``: such a file is run with the alias
    installed (by ``headwater run`` and by the Runner alike)."""
    return _IMPORTS_METAFLOW.search(source) is not None


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

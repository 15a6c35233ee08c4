"""Write a ``metaflow`` package that forwards to headwater, for ``python flow.py`` unchanged.

``headwater run flow.py`` aliases ``metaflow`` for its own process. A team that wants the plain
``python flow.py run`` (a Makefile, a CI job, a test harness) puts this small package first on
``PYTHONPATH`` instead; the real ``metaflow`` stays installed and untouched elsewhere.
"""

from __future__ import annotations

from pathlib import Path

_MODULES = {
    "__init__.py": (
        "from headwater.compat.metaflow_api import *  # noqa: F401,F403\n"
        "from headwater.compat.metaflow_api import __all__, __version__  # noqa: F401\n"
    ),
    "exception.py": "from headwater.compat.exception_names import *  # noqa: F401,F403\n",
    "cards.py": "from headwater.compat.cards import *  # noqa: F401,F403\n",
    "plugins/__init__.py": "",
    "plugins/cards/__init__.py": "",
    "plugins/cards/exception.py":
        "from headwater.compat.card_exception import *  # noqa: F401,F403\n",
}
_HEADER = '"""Forwarding package written by `headwater shim`: metaflow\'s names, served by headwater."""\n'


def write_shim(folder: str | Path) -> Path:
    """Create ``folder/metaflow/`` and return it; put ``folder`` first on PYTHONPATH to use it."""
    package = Path(folder).expanduser().resolve() / "metaflow"
    package.mkdir(parents=True, exist_ok=True)
    for name, body in _MODULES.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(_HEADER + body)
    return package

"""Write a ``metaflow`` package that forwards to headwater, for ``python flow.py`` unchanged.

``headwater run flow.py`` aliases ``metaflow`` for its own process. A team that wants the plain
``python flow.py run`` (a Makefile, a CI job, a test harness) puts this small package first on
``PYTHONPATH`` instead; the real ``metaflow`` stays installed and untouched elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from headwater.compat.modules import SERVED, packages

_HEADER = '"""Forwarding package written by `headwater shim`: metaflow\'s names, served by headwater."""\n'


def _body(target: str) -> str:
    if not target:
        return ""
    return (f"from {target} import *  # noqa: F401,F403\n"
            f"from {target} import __all__  # noqa: F401\n")


def _file_of(package: Path, name: str, folders: set[str]) -> Path:
    parts = name.split(".")[1:]
    if name in folders:
        return package.joinpath(*parts, "__init__.py")
    return package.joinpath(*parts[:-1], parts[-1] + ".py") if parts else package / "__init__.py"


def write_shim(folder: str | Path) -> Path:
    """Create ``folder/metaflow/`` and return it; put ``folder`` first on PYTHONPATH to use it."""
    package = Path(folder).expanduser().resolve() / "metaflow"
    package.mkdir(parents=True, exist_ok=True)
    folders = packages() | {"metaflow"}
    for name, target in SERVED.items():
        path = _file_of(package, name, folders)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = _body(target)
        if name == "metaflow":
            body += f"from {target} import __version__  # noqa: F401\n"
        path.write_text(_HEADER + body)
    return package

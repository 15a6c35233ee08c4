"""``@package_suffixes([".yaml", ".json"])``: more kinds of file in the flow's code package.

The flow mutator form of ``--package-suffixes``, written on the flow class so the flow carries
its own needs (Metaflow's ``metaflow.plugins.package_suffixes_mutator``). Through
``add_to_package`` it adds every file under the flow's folder whose name ends with one of the
suffixes, at its path relative to that folder, wherever the code package goes (the Dask
executor, deployed tasks). Folders skipped by the code package (hidden ones, virtual
environments, caches) are skipped here too, and a link is followed only when it stays inside
the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from headwater.decorators.mutators import FlowMutator
from headwater.decorators.package_hooks import ContentType

__all__ = ["package_suffixes"]

_SKIPPED = {"__pycache__", "venv", "node_modules"}  # besides every folder starting with "."


class package_suffixes(FlowMutator):  # noqa: N801 - Metaflow's name, used as a decorator
    """Add the files with these suffixes (``[".yaml", "json"]`` or ``".yaml,json"``; the dot is
    optional, case does not matter) to the flow's code package."""

    def init(self, suffixes: list[str] | tuple[str, ...] | str = ()) -> None:
        if isinstance(suffixes, str):
            suffixes = suffixes.split(",")
        cleaned = (s.strip().lower() for s in suffixes)
        self._suffixes = tuple(s if s.startswith(".") else "." + s for s in cleaned if s)

    def add_to_package(self) -> Iterator[tuple[str, str, Any]]:
        """``(file, path in the package, USER_CONTENT)`` for each matching file."""
        if not self._suffixes or self._flow_cls is None:
            return
        import inspect

        try:
            flow_file = inspect.getfile(self._flow_cls)
        except (TypeError, OSError):  # a flow defined outside a file: nothing to walk
            return
        folder = os.path.dirname(os.path.realpath(flow_file))
        if not os.path.isdir(folder):
            return
        for path in _walk(folder):
            if path.lower().endswith(self._suffixes):
                yield path, os.path.relpath(path, folder), ContentType.USER_CONTENT


def _walk(folder: str) -> Iterator[str]:
    for here, dirs, files in os.walk(folder):  # never enters a linked folder
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(here, name)
            real = os.path.realpath(path)
            if os.path.isfile(real) and os.path.commonpath([real, folder]) == folder:
                yield path

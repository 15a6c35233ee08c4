"""``import metaflow.plugins.<sub>`` for submodules that ``metaflow_extensions`` packages promote.

Installed last on ``sys.meta_path`` when ``metaflow`` is served: it is asked only about modules
no other finder found, so the modules headwater serves (and every other import) never reach it,
and the extension packages are searched only when a missing ``metaflow.*`` module is imported.
Once it has aliased one, it moves to the front of ``sys.meta_path``, so that the submodules of an
aliased package are that package's own modules (one module object under both names), as with
Metaflow. ``<alias>._orig.<module>``, which an extension overriding one of Metaflow's modules
imports to build on the original, is headwater's module of that name (:data:`ORIGINALS`).
"""

from __future__ import annotations

import sys
from typing import Any

# Metaflow modules an extension may override and build on, -> headwater's module serving it.
ORIGINALS = {
    "metaflow.plugins.frameworks.pytorch": "headwater.compat.pytorch_names",
}


class _Alias:
    """A loader whose module is one already imported under another name."""

    def __init__(self, target: str | None) -> None:
        self.target = target

    def create_module(self, spec: Any) -> Any:
        import importlib
        import types

        if self.target is None:  # the ``_orig`` package itself: only a parent
            module = types.ModuleType(spec.name, "Metaflow's originals, served by headwater")
            module.__path__ = []  # type: ignore[attr-defined]
            return module
        return importlib.import_module(self.target)

    def exec_module(self, module: Any) -> None:
        """Already imported."""


class ExtensionFinder:
    """A ``sys.meta_path`` finder for promoted extension modules (see the module docstring)."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] | None = None
        self.in_front = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("metaflow."):
            return None
        if self.aliases is None:
            from headwater.compat.extension_points import promotions

            self.aliases = {}  # a module imported while reading them is not ours to alias
            self.aliases = promotions()
        found = self._target(fullname)
        if found is False:
            return None
        import importlib.util

        if not self.in_front:
            self.in_front = True
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            sys.meta_path.insert(0, self)
        return importlib.util.spec_from_loader(fullname, _Alias(found),
                                               is_package=self._is_package(found))

    def _target(self, fullname: str) -> str | None | bool:
        """The module ``fullname`` is, None for an ``_orig`` package, False when not ours."""
        aliases = self.aliases or {}
        if fullname in aliases:
            return aliases[fullname]
        parts = fullname.split(".")
        for cut in range(len(parts) - 1, 1, -1):
            prefix = ".".join(parts[:cut])
            if prefix not in aliases:
                continue
            rest = parts[cut:]
            if rest[0] == "_orig":
                if len(rest) == 1:
                    return None
                return ORIGINALS.get(".".join([prefix, *rest[1:]]), False)
            return ".".join([aliases[prefix], *rest])
        return False

    @staticmethod
    def _is_package(target: str | None) -> bool:
        if target is None:
            return True
        import importlib.util

        spec = importlib.util.find_spec(target)
        return spec is not None and spec.submodule_search_locations is not None


def install() -> None:
    """Put one finder last on ``sys.meta_path`` (once per process)."""
    if not any(isinstance(f, ExtensionFinder) for f in sys.meta_path):
        sys.meta_path.append(ExtensionFinder())

"""Notice when a module a parked serializer waits for gets imported, and retry it then.

A finder placed first on ``sys.meta_path`` answers only for the watched module names: it finds
the real spec with the other finders and wraps its loader, so that once the module has executed
the parked declarations are tried again (the callback given to :func:`watch`). It is installed only when something is parked: a run whose serializers all
import cleanly never touches the import system.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any


class _NotifyingLoader:
    """Runs the real loader, then reports the module; every other attribute is the real one's."""

    def __init__(self, real: Any, watcher: ImportWatcher) -> None:
        self._real = real
        self._watcher = watcher

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._real.exec_module(module)
        finally:  # the spec shows the real loader again, whatever happened
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._real
        self._watcher.imported(module)  # only reached when the module executed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class ImportWatcher:
    """The ``sys.meta_path`` finder; ``_watched`` and ``_processed`` are module names."""

    def __init__(self) -> None:
        self._watched: set[str] = set()
        self._processed: set[str] = set()
        self.notify: Callable[[str], None] | None = None

    def watch(self, module_name: str) -> None:
        self._watched.add(module_name)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._watched:
            return None
        from importlib.util import find_spec

        present = self in sys.meta_path
        if present:
            sys.meta_path.remove(self)  # let the real finders answer
        try:
            spec = find_spec(fullname)
        finally:
            if present:
                sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _NotifyingLoader(spec.loader, self)
        return spec

    def imported(self, module: ModuleType) -> None:
        name = module.__name__
        if name in self._processed or name not in self._watched:
            return
        self._processed.add(name)
        try:
            if self.notify is not None:
                self.notify(name)
        except Exception as exc:  # noqa: BLE001 - never break the user's import over this
            warnings.warn(f"artifact serializers waiting on module '{name}' could not be "
                          f"retried ({type(exc).__name__}: {exc}); they stay pending "
                          "(see headwater.store.serializers.list_serializer_status())",
                          RuntimeWarning, stacklevel=2)


_interceptor = ImportWatcher()


def watch(module_name: str, notify: Callable[[str], None]) -> None:
    """Call ``notify(module_name)`` once ``module_name`` has been imported (installs the
    finder)."""
    _interceptor.notify = notify
    if not (sys.meta_path and sys.meta_path[0] is _interceptor):
        if _interceptor in sys.meta_path:
            sys.meta_path.remove(_interceptor)
        sys.meta_path.insert(0, _interceptor)
    _interceptor.watch(module_name)


def reset() -> None:
    """Watch nothing and leave ``sys.meta_path`` (for tests)."""
    _interceptor._watched.clear()
    _interceptor._processed.clear()
    if _interceptor in sys.meta_path:
        sys.meta_path.remove(_interceptor)


_reset_for_tests = reset

__all__ = ["ImportWatcher", "_interceptor", "_reset_for_tests", "reset", "watch"]

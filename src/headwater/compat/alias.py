"""Serve ``import metaflow`` from headwater inside one process.

Only ``sys.modules`` of the calling process changes; the real ``metaflow`` package, if installed,
is neither imported nor touched. Tasks forked from this process inherit the alias.
"""

from __future__ import annotations

import importlib
import re
import sys
import types

from headwater.compat.modules import LAZY, SERVED, packages

_IMPORTS_METAFLOW = re.compile(r"^\s*(from|import)\s+metaflow\b", re.MULTILINE)


def imports_metaflow(source: str) -> bool:
    """Whether a flow file's ``source`` imports ``metaflow``: such a file is run with the alias
    installed (by ``headwater run`` and by the Runner alike)."""
    return _IMPORTS_METAFLOW.search(source) is not None


def install() -> None:
    """Make ``metaflow`` and the submodules of :data:`SERVED` resolve to headwater."""
    from headwater.compat import metaflow_api

    package = types.ModuleType("metaflow", metaflow_api.__doc__)
    package.__dict__.update({k: getattr(metaflow_api, k) for k in metaflow_api.__all__})
    package.__version__ = metaflow_api.__version__
    package.__all__ = list(metaflow_api.__all__)
    package.__getattr__ = metaflow_api.__getattr__  # type: ignore[attr-defined] # names served lazily
    package.__path__ = []  # a package, so submodule imports are looked up in sys.modules
    sys.modules["metaflow"] = package
    folders = packages()
    for name in sorted(SERVED, key=lambda n: n.count(".")):
        if name == "metaflow":
            continue
        target = SERVED[name]
        if name in LAZY:
            module = _on_first_use(name, target)
        elif target:
            module = importlib.import_module(target)
        else:
            module = types.ModuleType(name, "an empty package served by headwater")
        if name in folders and not hasattr(module, "__path__"):
            module.__path__ = []  # type: ignore[attr-defined]
        sys.modules[name] = module
        parent, _, leaf = name.rpartition(".")
        setattr(sys.modules[parent], leaf, module)


def _on_first_use(name: str, target: str) -> types.ModuleType:
    """A module ``name`` whose names are looked up in ``target``, imported at the first lookup."""
    module = types.ModuleType(name, f"served by {target}, imported on first use")

    def __getattr__(attr: str) -> object:
        if attr.startswith("__") and attr != "__all__":  # the import system probing it
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(target), attr)

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return module

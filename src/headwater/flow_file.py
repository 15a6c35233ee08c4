"""Import a flow file by its path and find the flow class in it: the one copy of that rule.

Used by ``headwater COMMAND flow.py`` (which must not run the file's ``__main__`` block) and by
remote workers (which import the flow from an unpacked code package:
:func:`packaged_flow_class`). Whether a file was written
for ``metaflow`` is :func:`headwater.compat.alias.imports_metaflow`'s rule.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from headwater.exceptions import FlowDefinitionError


def _imports_metaflow(path: str) -> bool:
    """Whether the file at ``path`` was written for ``metaflow`` (and needs the alias)."""
    from headwater.compat.alias import imports_metaflow

    with open(path, encoding="utf-8", errors="replace") as handle:
        return imports_metaflow(handle.read())


def import_file(path: str, module_name: str) -> ModuleType:
    """Execute the Python file ``path`` as the module ``module_name``, its folder on sys.path
    (the folder of the file a symbolic link ``path`` points to, as for ``python path``).

    Whatever the file raises (a SyntaxError, a failing import) propagates unchanged; callers show
    it through :func:`headwater.tracebacks.user_traceback`.
    """
    full = os.path.abspath(path)
    # As `python flow.py` does, the folder is the one of the file a symbolic link points to:
    # a flow linked into another folder imports its neighbours from where it really lives.
    folder = os.path.dirname(os.path.realpath(full))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    if _imports_metaflow(full):
        from headwater.compat import alias

        alias.install()
    spec = importlib.util.spec_from_file_location(module_name, full)
    if spec is None or spec.loader is None:
        raise FlowDefinitionError(f"{path} cannot be imported as Python",
                                  fix="give the flow file a .py name")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def flow_class_in(module: ModuleType, path: str) -> type:
    """The one FlowSpec subclass ``module`` defines (the most derived, when flows subclass)."""
    from headwater.flow.flowspec import FlowSpec

    flows = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, FlowSpec) and obj is not FlowSpec
        and obj.__module__ == module.__name__
    ]
    leaves = [f for f in flows if not any(o is not f and issubclass(o, f) for o in flows)]
    if len(leaves) != 1:
        found = ", ".join(f.__name__ for f in leaves) or "none"
        fix = ("move each flow to a file of its own (a base class the flow subclasses may "
               "stay), then run that file" if leaves else
               "define a class that subclasses FlowSpec, with @step methods from start to end "
               "(from headwater import FlowSpec, step)")
        raise FlowDefinitionError(
            f"{path} must define exactly one flow (a FlowSpec subclass); found: {found}", fix=fix)
    return leaves[0]


def load_flow_class(path: str) -> type:
    """Import the flow file ``path`` under its own name (not ``__main__``) and return its flow."""
    if not os.path.isfile(path):
        raise FlowDefinitionError(f"flow file {path!r} does not exist",
                                  fix="check the path, relative to the current folder")
    name = os.path.splitext(os.path.basename(path))[0]
    if name in _SHADOWED:
        # Imported under its own name, the file would be the module `from headwater import
        # ...` (or the alias's `metaflow`) finds: Python's "partially initialized module" error.
        raise FlowDefinitionError(
            f"flow file {path!r} is named like the package {name!r} it imports, so that "
            "import would find the file itself",
            fix=f"rename the file, e.g. to {name}_flow.py")
    return flow_class_in(import_file(path, name), path)


_SHADOWED = ("headwater", "metaflow")
"""Module names a flow file may not have: the packages flows import."""


def own_file_record(flow_cls: type) -> dict[str, str]:
    """The flow's own file in the shape :func:`packaged_flow_class` reads (with the ``folder``
    that holds it): for a process of another interpreter that imports the flow as it is now."""
    import inspect

    flow_file = os.path.realpath(inspect.getfile(flow_cls))
    return {"folder": os.path.dirname(flow_file), "module": flow_cls.__module__,
            "path": os.path.basename(flow_file), "class": flow_cls.__name__}


def packaged_flow_class(folder: str, code: Mapping[str, Any]) -> type:
    """The flow class ``code`` names (its ``module``, ``path`` and ``class``, as a code package
    records them), imported from ``folder``: an unpacked code package, or the flow's own folder.

    The module is imported under the name the launcher used, if it can be; a flow run as a script
    is ``__main__`` there, so here it is imported under a neutral name and its class found by
    name. Used by Dask workers, deployed tasks and the fork servers of step environments.
    """
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name, rel_path, class_name = code["module"], code["path"], code["class"]
    module = None
    if module_name != "__main__":
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
    if module is None:
        stem = os.path.splitext(os.path.basename(rel_path))[0]
        module = import_file(os.path.join(folder, rel_path), f"_headwater_flow_{stem}")
    flow_cls = getattr(module, class_name, None)
    if not isinstance(flow_cls, type):
        raise ImportError(f"the code package has no flow class {class_name} in {rel_path}")
    return flow_cls

"""``add_to_package``: files a mutator or user step decorator asks to travel in the code package.

Metaflow's hook returns ``(file path, arcname)`` pairs or ``(content, arcname, ContentType)``
triples. headwater's code package is the flow's folder, unpacked as the tasks' working folder and
import root, so every kind lands at ``arcname`` inside it; a ``MODULE_CONTENT`` entry (a module or
its name) brings the module's source under its import path.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from typing import Any

from headwater.exceptions import FlowDefinitionError


class ContentType(IntEnum):
    """What an ``add_to_package`` entry is (Metaflow's ``metaflow.packaging_sys.ContentType``)."""

    USER_CONTENT = 0x1  # a file of the flow's own code, relative to the flow's folder
    CODE_CONTENT = 0x2  # library code
    MODULE_CONTENT = 0x4  # a Python module, given by itself or by name
    OTHER_CONTENT = 0x8  # any other file
    ALL_CONTENT = 0xF


def package_additions(flow_cls: type) -> list[tuple[str, str]]:
    """``(file path, arcname)`` for each file the flow's mutators and user step decorators add
    through ``add_to_package``, each arcname once."""
    from headwater.decorators.mutable import RUNNING_MUTATORS_ATTR
    from headwater.decorators.mutators import declared_flow_mutators, step_mutators
    from headwater.decorators.user_step import user_wrappers
    from headwater.flow.step import step_members

    running = flow_cls.__dict__.get(RUNNING_MUTATORS_ATTR)
    hooks: dict[int, Any] = {id(m): m for m in
                             (running if running is not None else declared_flow_mutators(flow_cls))}
    for _, func in step_members(flow_cls):
        for deco in [*step_mutators(func), *user_wrappers(func)]:
            hooks.setdefault(id(deco), deco)
    found: dict[str, str] = {}
    for owner in hooks.values():
        hook = getattr(owner, "add_to_package", None)
        for entry in (hook() if hook is not None else None) or ():
            for path, arcname in _files(entry, owner):
                if found.setdefault(arcname, path) != path:
                    raise FlowDefinitionError(
                        f"add_to_package of {owner!r} puts {path} at {arcname!r}, where "
                        f"{found[arcname]} already goes", fix="give each file its own arcname")
    return sorted((path, arcname) for arcname, path in found.items())


def _files(entry: Any, owner: Any) -> list[tuple[str, str]]:
    kind = ContentType.CODE_CONTENT
    if len(entry) == 3:
        content, arcname, kind = entry
    else:
        content, arcname = entry
    if kind == ContentType.MODULE_CONTENT:
        return _module_files(content, owner)
    arcname = os.path.normpath(str(arcname))
    if os.path.isabs(arcname) or arcname.startswith(".."):
        raise FlowDefinitionError(f"add_to_package of {owner!r}: arcname {arcname!r} leaves the "
                                  "package", fix="give a path relative to the package's root")
    return [(os.path.realpath(str(content)), arcname)]


def _module_files(module: Any, owner: Any) -> list[tuple[str, str]]:
    """The source files of a module (a package: every ``.py`` under it) by import path."""
    if isinstance(module, str):
        import importlib

        module = sys.modules.get(module) or importlib.import_module(module)
    source = getattr(module, "__file__", None)
    if not source:
        raise FlowDefinitionError(f"add_to_package of {owner!r}: module {module!r} has no file")
    parts = module.__name__.split(".")
    if os.path.basename(source) != "__init__.py":
        return [(os.path.realpath(source), os.path.join(*parts[:-1], os.path.basename(source)))]
    root = os.path.dirname(source)
    files = []
    for here, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(n for n in names if n.endswith(".py")):
            path = os.path.join(here, name)
            files.append((os.path.realpath(path),
                          os.path.join(*parts, os.path.relpath(path, root))))
    return files

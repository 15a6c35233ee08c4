"""What ``metaflow_extensions`` packages contribute beyond card types, found on first need.

An organisation's package ``metaflow_extensions.<org>`` contributes through folders named after
Metaflow's extension points, each with a ``mfextinit_<name>.py`` module (or, in the older
layout, its ``__init__.py``):

- ``config``: its public names are extra ``metaflow.metaflow_config`` values;
- ``exceptions``: its public names are extra ``metaflow.exception`` names;
- ``toplevel``: its ``toplevel`` names a module whose public names are extra ``metaflow`` names;
- ``plugins``: ``STEP_DECORATORS_DESC`` / ``FLOW_DECORATORS_DESC`` list ``(name, ".module.Class")``
  decorators (served as ``from metaflow import name``), ``SECRETS_PROVIDERS_DESC`` the secrets
  providers ``@secrets`` may name (found through the backends' registry), and ``__mf_promote_submodules__`` (plus
  the submodules it imports) become ``metaflow.plugins.<sub>``; ``toplevel`` promotes to
  ``metaflow.<sub>`` the same way.

Nothing is searched until a name ``metaflow`` does not serve is asked for; each point is read
once per process. A module that fails to import is reported when one of its names is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import types
from typing import Any

ROOT = "metaflow_extensions"
_POINTS = ("config", "exceptions", "toplevel", "plugins")

_modules: dict[str, list[tuple[str, types.ModuleType]]] = {}  # point -> [(org, mfextinit)]
_errors: dict[str, str] = {}  # module -> "ExcType: message"


def _org_folders() -> dict[str, list[str]]:
    """Organisation -> the folders holding it, in ``sys.path`` order."""
    try:
        if importlib.util.find_spec(ROOT) is None:
            return {}
        root = importlib.import_module(ROOT)
    except Exception as exc:  # noqa: BLE001 - a broken extension package never breaks a run
        _errors[ROOT] = f"{type(exc).__name__}: {exc}"
        return {}
    orgs: dict[str, list[str]] = {}
    for folder in list(getattr(root, "__path__", [])):
        for org in sorted(_listdir(folder)):
            if org.isidentifier() and os.path.isdir(os.path.join(folder, org)):
                orgs.setdefault(org, []).append(os.path.join(folder, org))
    return orgs


def init_modules(point: str) -> list[tuple[str, types.ModuleType]]:
    """``(org, module)`` of every ``<org>/<point>/mfextinit_*.py``, imported once; a point
    folder without one whose ``__init__.py`` is its configuration (the older layout Metaflow
    still reads: t-chov/metaflow_slack_notifier declares its decorator there) gives that
    package."""
    if point not in _modules:
        found: list[tuple[str, types.ModuleType]] = []
        for org, folders in _org_folders().items():
            listed = {f for folder in folders for f in _listdir(os.path.join(folder, point))}
            names = [f"{ROOT}.{org}.{point}.{f[:-3]}" for f in sorted(listed)
                     if f.startswith("mfextinit_") and f.endswith(".py")]
            if not names and "__init__.py" in listed:
                names = [f"{ROOT}.{org}.{point}"]
            for name in names:
                module = _load(name)
                if module is not None:
                    found.append((org, module))
        _modules[point] = found
    return _modules[point]


def public_names(module: types.ModuleType) -> dict[str, Any]:
    """A module's names as Metaflow copies them: not dunder, not modules."""
    return {k: v for k, v in vars(module).items()
            if not k.startswith("__") and not isinstance(v, types.ModuleType)}


def config_value(name: str) -> Any:
    """An extra ``metaflow_config`` value; the last package read wins, as in Metaflow."""
    return _last(name, "config")


def exception(name: str) -> Any:
    return _last(name, "exceptions")


def _last(name: str, point: str) -> Any:
    found = _MISSING
    for _org, module in init_modules(point):
        found = public_names(module).get(name, found)
    if found is _MISSING:
        raise AttributeError(name)
    return found


def toplevel(name: str) -> Any:
    """An extra ``metaflow`` name: from a ``toplevel`` module, else a plug-in decorator."""
    for org, init in init_modules("toplevel"):
        target = getattr(init, "toplevel", None)
        if not isinstance(target, str):
            continue
        module = _load(f"{ROOT}.{org}.toplevel.{target}")
        if module is not None and name in public_names(module):
            return public_names(module)[name]
    return plugin_decorator(name)


_decorators: dict[str, Any] = {}


def plugin_decorator(name: str) -> Any:
    """``@name`` for a step or flow decorator a ``plugins`` module declares (made once)."""
    if name in _decorators:
        return _decorators[name]
    for org, init in init_modules("plugins"):
        for kind in ("STEP_DECORATORS_DESC", "FLOW_DECORATORS_DESC"):
            for entry in getattr(init, kind, None) or ():
                if entry[0] != name:
                    continue
                cls = _class_at(org, entry[1])
                from headwater.decorators import lifecycle

                make = (lifecycle.make_lifecycle_step_decorator if kind.startswith("STEP")
                        else lifecycle.make_lifecycle_flow_decorator)
                _decorators[name] = make(cls)
                return _decorators[name]
    raise AttributeError(name)


def secrets_provider(name: str) -> Any:
    """The secrets backend for ``@secrets(sources=["NAME.ID"])`` that a ``plugins`` module
    declares in ``SECRETS_PROVIDERS_DESC`` (``(name, ".module.Class")``, a ``SecretsProvider``
    class), or None: its class is imported when the backend is loaded."""
    from headwater.backends import Backend

    for org, init in init_modules("plugins"):
        for entry in getattr(init, "SECRETS_PROVIDERS_DESC", None) or ():
            if entry[0] == name:
                module_path, _, attr = entry[1].rpartition(".")
                if module_path.startswith("."):
                    module_path = f"{ROOT}.{org}.plugins{module_path}"
                return Backend("secrets", name, f"{module_path}:{attr}",
                               summary=f"a secrets provider of metaflow_extensions.{org}")
    return None


def _class_at(org: str, path: str) -> Any:
    """``".module.Class"`` relative to ``metaflow_extensions.<org>.plugins`` (``".Class"``: a
    class of the plugins package itself)."""
    module_path, _, attr = path.rpartition(".")
    base = f"{ROOT}.{org}.plugins"
    module = importlib.import_module(base + module_path if module_path.startswith(".")
                                     or not module_path else module_path)
    return getattr(module, attr)


def promotions() -> dict[str, str]:
    """``metaflow.<...>`` module name -> the extension module it is (Metaflow's aliases)."""
    aliases: dict[str, str] = {}
    for point, prefix in (("plugins", "metaflow.plugins"), ("toplevel", "metaflow")):
        for org, init in init_modules(point):
            for sub in getattr(init, "__mf_promote_submodules__", None) or ():
                aliases[f"{prefix}.{sub}"] = f"{ROOT}.{org}.{point}.{sub}"
            for attr, value in vars(init).items():
                package = getattr(value, "__package__", None) or ""
                if (isinstance(value, types.ModuleType)
                        and package.startswith(f"{ROOT}.{org}")):
                    aliases[f"{prefix}.{attr}"] = value.__name__
    return aliases


def package_files() -> list[tuple[str, str]]:
    """``(file path, name in the code package)`` for the files of every ``metaflow_extensions``
    package this process can import, as ``metaflow_extensions/<org>/...``.

    Metaflow ships the active extensions inside a flow's code package, so a remote task has
    the decorators, config values and card types they add without installing them; a code
    package unpacked on a Dask worker (or in a deployed task) is on ``sys.path``, so the same
    namespace package is found there. Hidden files and ``__pycache__`` stay out, and so does a
    link pointing out of the package's folder (the flow folder's rule: a link to ``~/.aws``
    would copy the file into a datastore others read)."""
    files: list[tuple[str, str]] = []
    seen: set[str] = set()
    for org, folders in _org_folders().items():
        for folder in folders:
            real_folder = os.path.realpath(folder)
            for here, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
                for name in sorted(names):
                    path = os.path.join(here, name)
                    arcname = os.path.join(ROOT, org, os.path.relpath(path, folder))
                    if (name.startswith(".") or name.endswith((".pyc", ".pyo"))
                            or arcname in seen or not os.path.isfile(path)
                            or not _inside(path, real_folder)):
                        continue
                    seen.add(arcname)
                    files.append((path, arcname))
    return files


def _inside(path: str, real_folder: str) -> bool:
    """Whether ``path``, its links followed, is inside ``real_folder`` (a resolved path)."""
    return os.path.commonpath([os.path.realpath(path), real_folder]) == real_folder


def errors() -> dict[str, str]:
    """Extension modules that failed to import so far, with their error."""
    return dict(_errors)


def _load(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - one broken module leaves the others working
        _errors[name] = f"{type(exc).__name__}: {exc}"
        return None


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


_MISSING = object()


def reset() -> None:
    """Forget what was found (tests that write extension packages at run time)."""
    _modules.clear()
    _errors.clear()
    _decorators.clear()

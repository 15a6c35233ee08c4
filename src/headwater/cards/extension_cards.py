"""Card types shipped in Metaflow extension packages (``metaflow_extensions.<org>.plugins.cards``).

Organisations publish card types for Metaflow as a namespace package; a module there lists them
in ``CARDS = [MyCard, ...]``. Three layouts are read, as Metaflow reads them:

- ``plugins/cards/mfextinit_<X>.py`` (that module's ``CARDS``),
- ``plugins/cards/__init__.py`` (the package's ``CARDS``),
- no init file: each subpackage ``plugins/cards/<sub>/`` with its own ``CARDS``.

A module that fails to import is left out (the other card types keep working) and its error is
kept, so naming one of its types reports why it is missing. The search runs once per process and
only when a step names a card type that is neither defined nor a registered backend: a run with
built-in cards never looks at ``sys.path`` for extensions.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
from types import ModuleType

ROOT = "metaflow_extensions"
_INIT_FILE = re.compile(r"^mfextinit_[A-Za-z0-9_-]+\.py$")

_cards: dict[str, type] | None = None
_broken: dict[str, str] = {}  # module name -> "ExcType: message" of a card module that failed


def find(base: type) -> dict[str, type]:
    """Every card type of the extension packages, by name: the subclasses of ``base`` (the
    ``MetaflowCard`` class, passed in so this module never imports the card registry) with a
    ``type`` that their modules list in ``CARDS``. Searched once per process."""
    global _cards
    if _cards is None:
        cards: dict[str, type] = {}
        for module in _card_modules():
            listed = getattr(module, "CARDS", None)
            if not isinstance(listed, list):
                continue
            for cls in listed:
                # As with Metaflow: only subclasses with a type name; the first package to
                # declare a name keeps it.
                name = getattr(cls, "type", None)
                if (isinstance(cls, type) and issubclass(cls, base)
                        and isinstance(name, str) and name and name not in cards):
                    cards[name] = cls
        _cards = cards
    return _cards


def broken_modules() -> dict[str, str]:
    """Card modules of extension packages that failed to import (so far), with their error."""
    return dict(_broken)


def _card_modules() -> list[ModuleType]:
    """Every module whose ``CARDS`` counts, from each organisation's ``plugins.cards``."""
    try:
        if importlib.util.find_spec(ROOT) is None:
            return []
        root = importlib.import_module(ROOT)
    except Exception as exc:  # noqa: BLE001 - a broken extension never breaks headwater
        _broken[ROOT] = _why(exc)
        return []
    modules: list[ModuleType] = []
    # Organisations are usually namespace packages (no __init__.py), which pkgutil does not
    # list: a folder holding plugins/cards is one.
    folders = list(getattr(root, "__path__", []))
    orgs = sorted({org for folder in folders for org in _listdir(folder)
                   if org.isidentifier() and _has_cards_folder(folders, org)})
    for org in orgs:
        base = f"{ROOT}.{org}.plugins.cards"
        package = _load(base)
        if package is None:
            continue
        places = list(getattr(package, "__path__", []))
        inits = sorted({f for place in places for f in _listdir(place) if _INIT_FILE.match(f)})
        if inits:
            modules += [m for m in (_load(f"{base}.{f[:-3]}") for f in inits) if m is not None]
        elif getattr(package, "__file__", None):
            modules.append(package)
        else:
            for info in pkgutil.iter_modules(places, base + "."):
                if info.ispkg:
                    sub = _load(info.name)
                    if sub is not None:
                        modules.append(sub)
    return modules


def _has_cards_folder(folders: list[str], org: str) -> bool:
    """Whether ``<org>/plugins/cards`` exists on disk: an organisation without cards is never
    imported (its plug-ins may need Metaflow internals headwater does not serve)."""
    return any(os.path.isdir(os.path.join(folder, org, "plugins", "cards"))
               for folder in folders)


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - one broken card module leaves the others working
        _broken[name] = _why(exc)
        return None


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _why(exc: BaseException) -> str:
    from headwater.tracebacks import user_frames

    last = user_frames(exc.__traceback__)[-1:]
    where = f" ({last[0].filename}, line {last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def reset() -> None:
    """Forget what was found (tests that write extension packages at run time)."""
    global _cards
    _cards = None
    _broken.clear()

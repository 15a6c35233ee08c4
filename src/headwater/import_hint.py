"""A flow file's failing import, explained: its own package above it, or a step's package.

``package_above_hint``: a flow in a package of the project, run by its path.

``python mlproj/flows/train.py run`` puts ``mlproj/flows`` on Python's path, not the project's
root, so the flow's ``from mlproj.lib import features`` fails with a bare
``ModuleNotFoundError: No module named 'mlproj'`` although the package is right there, above
the file. When a folder above the flow file holds the missing package, this says so and names
the commands that find it. Free of the rest of headwater: the import-time hook uses it.

``relative_import_hint``: ``from ..lib import features`` in a flow run by its path, which
Python refuses ("attempted relative import with no known parent package"): name the ``-m`` form.

``step_package_hint``: ``import tabulate`` at the top of a flow whose ``@pypi`` step declares
tabulate. The file is imported by the Python that runs the flow, which does not have a step's
packages (Metaflow's documentation says to import them inside the step; its error is the same
bare ``ModuleNotFoundError``).
"""

from __future__ import annotations

import os
import re
import shlex

_LEVELS = 8  # how many folders above the flow file are looked at


def package_above_hint(exc: BaseException, script: str | None, rest: list[str]) -> str | None:
    """A note for ``exc`` (a ModuleNotFoundError while ``script`` was imported) when a folder
    above ``script`` holds the missing top-level module; ``rest`` is what followed the file on
    the command line. None in every other case."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or not script:
        return None
    top = exc.name.split(".", 1)[0]
    here = os.path.dirname(os.path.realpath(script))
    root = _holder(here, top)
    if root is None:
        return None
    relative = os.path.relpath(os.path.splitext(os.path.realpath(script))[0], root)
    parts = relative.split(os.sep)
    args = " ".join(shlex.quote(arg) for arg in rest)
    tail = f" {args}" if args else ""
    dotted = ".".join(parts)
    module_form = (f"cd {shlex.quote(root)} && python -m {dotted}{tail}"
                   if all(part.isidentifier() for part in parts) else None)
    path_form = f"PYTHONPATH={shlex.quote(root)} python {shlex.quote(script)}{tail}"
    first = module_form or path_form
    also = f", or `{path_form}`" if module_form else ""
    return (f"note: '{top}' is in {root}, above the flow file, but Python looks for imports "
            f"beside the file it runs ({here}), not in the project's root.\n"
            f"  fix: run it from the root as a module: `{first}`{also}; or install the project "
            f"(`pip install -e {shlex.quote(root)}`, with a pyproject.toml) so it imports from "
            "anywhere\n")


def _holder(start: str, top: str) -> str | None:
    """The nearest folder strictly above ``start`` holding the package or module ``top``."""
    folder = start
    for _ in range(_LEVELS):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
        if os.path.isfile(os.path.join(folder, top, "__init__.py")) \
                or os.path.isfile(os.path.join(folder, f"{top}.py")):
            return folder
    return None


def step_package_hint(exc: BaseException, script: str | None) -> str | None:
    """A note when the module ``exc`` misses is a package a ``@pypi``/``@conda`` declaration of
    ``script`` names (by its name, ``-`` and ``_`` alike): import it inside the step."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or not script:
        return None
    top = exc.name.split(".", 1)[0]
    try:
        with open(script, encoding="utf-8") as handle:
            source = handle.read(1_000_000)
    except (OSError, ValueError):
        return None
    if not re.search(r"@(pypi|conda)(_base)?\s*\(", source):
        return None
    spelled = "[-_.]".join(re.escape(part) for part in re.split(r"[-_.]", top))
    if not re.search(rf"""["']{spelled}\s*(\[[^\]]*\])?\s*["']\s*:""", source, re.IGNORECASE):
        return None
    return (f"note: '{top}' is a package of a @pypi/@conda declaration in this file; a step's "
            "packages are installed in that step's environment only, not in the Python that "
            "imports the flow file.\n"
            f"  fix: import {top} inside the step that declares it (e.g. def start(self): import "
            f"{top}), not at the top of the file\n")


def relative_import_hint(exc: BaseException, script: str | None,
                         rest: list[str]) -> str | None:
    """A note for a relative import in ``script`` run by its path, when the file sits in a
    package (its folder has an ``__init__.py``): the ``python -m`` command from the package's
    root. None in every other case."""
    if type(exc) is not ImportError or "no known parent package" not in str(exc) or not script:
        return None
    real = os.path.realpath(script)
    root = os.path.dirname(real)
    parts = [os.path.splitext(os.path.basename(real))[0]]
    while os.path.isfile(os.path.join(root, "__init__.py")) and len(parts) <= _LEVELS:
        parts.insert(0, os.path.basename(root))
        root = os.path.dirname(root)
    if len(parts) == 1 or not all(part.isidentifier() for part in parts):
        return None
    args = " ".join(shlex.quote(arg) for arg in rest)
    tail = f" {args}" if args else ""
    return (f"note: the flow file imports relatively, so it runs as a module of its package "
            f"{parts[0]}, not by its path.\n"
            f"  fix: `cd {shlex.quote(root)} && python -m {'.'.join(parts)}{tail}`\n")

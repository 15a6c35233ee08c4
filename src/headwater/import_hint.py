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
bare ``ModuleNotFoundError``). A package imported under another name than it is installed by
(``scikit-learn`` is ``import sklearn``) is matched through a short table of the common ones,
and the note then names both.
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


# Import name -> the names it is installed by, for the packages whose two differ and that
# data scientists declare most (an import name alone matches its own distribution already).
_INSTALLED_AS = {
    "sklearn": ("scikit-learn",), "skimage": ("scikit-image",), "cv2": (
        "opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv"),
    "PIL": ("pillow",), "yaml": ("pyyaml",), "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",), "dotenv": ("python-dotenv",), "attr": ("attrs",),
    "jwt": ("pyjwt",), "Crypto": ("pycryptodome",), "docx": ("python-docx",),
    "pptx": ("python-pptx",), "fitz": ("pymupdf",), "umap": ("umap-learn",),
    "faiss": ("faiss-cpu", "faiss-gpu"), "git": ("gitpython",), "zmq": ("pyzmq",),
    "OpenSSL": ("pyopenssl",), "serial": ("pyserial",), "MySQLdb": ("mysqlclient",),
    "psycopg2": ("psycopg2-binary",), "google": ("protobuf", "google-cloud-storage"),
    "Levenshtein": ("python-levenshtein", "levenshtein"), "sentence_transformers": (
        "sentence-transformers",), "tensorflow": ("tensorflow-cpu", "tensorflow-macos"),
    "torch": ("pytorch",), "magic": ("python-magic",),
}


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
    declared = next((name for name in (top, *_INSTALLED_AS.get(top, ()))
                     if _declares(source, name)), None)
    if declared is None:
        return None
    package = f"'{top}'" if declared == top else f"'{top}' (installed as '{declared}')"
    return (f"note: {package} is a package of a @pypi/@conda declaration in this file; a step's "
            "packages are installed in that step's environment only, not in the Python that "
            "imports the flow file.\n"
            f"  fix: import {top} inside the step that declares it (e.g. def start(self): import "
            f"{top}), not at the top of the file\n")


def module_in_environment_hint(step: str, kind: str, packages: tuple[str, ...],
                               message: str) -> str | None:
    """A note for a step that runs in its ``@pypi``/``@conda`` environment and failed with
    ``message`` (``No module named 'pyyaml'``): the module a declared package is imported by
    (``pyyaml`` -> ``yaml``), or that the name to install and the name to import can differ."""
    found = re.search(r"No module named '([^']+)'", message)
    if not found:
        return None
    missing = found.group(1).split(".", 1)[0]
    said = ", ".join(packages) or "none"
    fold = {name.lower().replace("_", "-").replace(".", "-"): name for name in packages}
    wanted = missing.lower().replace("_", "-").replace(".", "-")
    imports = sorted(module for module, installed in _INSTALLED_AS.items() if wanted in installed)
    if wanted in fold:
        if imports:
            return (f"Step '{step}' installs '{fold[wanted]}' (@{kind}), which is imported by "
                    f"another name: import {imports[0]}")
        return (f"Step '{step}' installs '{fold[wanted]}' (@{kind}) but no module "
                f"'{missing}': a package's import name can differ from the name it is "
                f"installed by (scikit-learn is imported as sklearn); its documentation names it")
    known = _INSTALLED_AS.get(missing, ())
    which = (f"for {missing}: '{known[0]}'" if known else
             "its name to install can differ from the name it is imported by: scikit-learn "
             "for sklearn")
    return (f"Step '{step}' runs in its @{kind} environment ({said}), which has no module "
            f"'{missing}': add the package that provides it to the step's @{kind}(packages=...) "
            f"({which})")


def _declares(source: str, package: str) -> bool:
    """Whether ``source`` has ``"package": ...`` (or ``"package[extra]"``), ``-``/``_``/``.``
    alike and in any case, as pip reads a name."""
    spelled = "[-_.]".join(re.escape(part) for part in re.split(r"[-_.]", package))
    return re.search(rf"""["']{spelled}\s*(\[[^\]]*\])?\s*["']\s*:""", source,
                     re.IGNORECASE) is not None


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

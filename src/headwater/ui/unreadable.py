"""Why the UI cannot show an artifact's value, in words a user can act on.

The UI unpickles a value to preview it; a value whose class lives in a module the UI's Python
cannot import (the flow's own file, a package installed only where the flow ran) fails there.
That is not damage: the stored bytes are whole, and the download still gives them as a pickle.
"""

from __future__ import annotations

import re

from headwater.exceptions import HeadwaterException

_ON_MODULE = re.compile(r"Can't get attribute '([^']+)' on <module '([^']+)'")


def missing_module(exc: BaseException, type_name: str) -> tuple[str, str | None]:
    """(module, class or None) the failed unpickling needed, from the error pickle raised
    (``No module named 'x'``, ``Can't get attribute 'C' on <module 'm'>``), else from the
    artifact's recorded type."""
    cause = exc.__cause__ or exc
    if isinstance(cause, ModuleNotFoundError) and cause.name:
        return cause.name, None
    found = _ON_MODULE.search(str(cause))
    if found:
        return found.group(2), found.group(1)
    module, _, cls = type_name.rpartition(".")
    return module or type_name, cls or None


def unpickling_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is pickle failing on whole bytes (a class or module not importable here),
    as opposed to a missing or damaged blob."""
    return isinstance(exc, HeadwaterException) and "unpickling failed" in str(
        getattr(exc, "msg", "")) and exc.__cause__ is not None


def explain(exc: BaseException, name: str, pathspec: str, type_name: str) -> tuple[str, str]:
    """(error, fix) for artifact ``name`` of task ``pathspec`` that failed to unpickle."""
    module, cls = missing_module(exc, type_name)
    what = f"class {cls} of module {module}" if cls else f"module {module}"
    if module == "__main__":
        return (f"artifact {name!r} of {pathspec} cannot be shown: its value needs {what}, "
                "a class defined in the flow's own file, which no other process can import",
                f"download it as a pickle and load it (pickle.load) in a script that defines "
                f"{cls or 'the class'}, or move the class into a module of its own and run "
                "`headwater ui` where that module imports")
    return (f"artifact {name!r} of {pathspec} cannot be shown: its value needs {what}, "
            "which the UI's Python cannot import",
            f"run `headwater ui` where {module} imports (its package installed, or the flow's "
            "folder on PYTHONPATH); or download it as a pickle and load it there")

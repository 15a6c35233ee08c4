"""Starting another Python of headwater's own without the current folder on its import path.

``python -c CODE`` and ``python -m MODULE`` put the current folder first on ``sys.path`` (``-c``
as ``''``, ``-m`` as its full path), ahead of the standard library. A run started from a folder
other users may write (``cd /tmp``) then imported whatever they planted there under a standard
name (``typing.py``, ``json.py``) in every Python it started: an exit hook's, each task's under
``--executor spawn``, a ``@pypi``/``@conda`` environment's server, a Dask worker's fork server,
the conda resolver. ``python flow.py`` is not concerned: its first entry is the flow's folder.

``-P`` (``PYTHONSAFEPATH``) does this only from Python 3.11, and an environment's interpreter may
be older; so the code given to ``-c`` drops that first entry itself before importing anything
(``sys`` is built in), and a module is run through ``runpy`` from such code. The flow's own
folder is put on the path by whatever loads the flow (:mod:`headwater.flow_file`).
"""

from __future__ import annotations

SAFE_PATH = "import sys; sys.path[:1] == [''] and sys.path.pop(0); "
"""The first statement of every ``-c`` of ours: ``''`` (the current folder) off the path."""


def code_argv(python: str, code: str, *args: str) -> list[str]:
    """``python -c CODE ARGS`` with the current folder left off the import path."""
    return [python, "-c", SAFE_PATH + code, *args]


def module_argv(python: str, module: str, *args: str) -> list[str]:
    """What ``python -m MODULE ARGS`` does (``sys.argv[0]`` is the module's file, ``__name__`` is
    ``"__main__"``), with the current folder left off the import path."""
    run = f"import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    return code_argv(python, run, *args)

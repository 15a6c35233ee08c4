"""The backends' interfaces declare everything the rest of headwater asks of them.

Two mechanical checks over ``src/headwater``: nothing probes an executor, a datastore or a
metadata store with ``getattr``/``hasattr`` (what is asked of one is declared by its interface:
``Executor``, ``Storage``/``DataStore``, ``MetadataStore``), and nothing outside the registry
compares with the name of a built-in executor, datastore or metadata backend (what differs
between backends is declared on their ``Backend`` record or behind their interface, so that a
backend from another package is treated the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

from test_layering import _import_statements, _module_name

import headwater
from headwater import backends
from headwater.meta.base import MetadataStore
from headwater.runtime.executors.base import Executor
from headwater.store.datastore import DataStore
from headwater.store.storage import Storage

PACKAGE = Path(headwater.__file__).parent

# Names a backend object goes by in the code: ``executor``, ``self._store``, ``meta``...
BACKEND_NAMES = {"executor", "store", "storage", "meta", "metadata", "datastore", "writer"}


def _sources() -> list[tuple[str, ast.AST]]:
    return [(p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text()))
            for p in sorted(PACKAGE.rglob("*.py"))]


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def test_nothing_probes_a_backend_for_an_attribute() -> None:
    offences = []
    for relative, tree in _sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and node.args):
                target = (_last_name(node.args[0]) or "").lstrip("_")
                if target in BACKEND_NAMES:
                    offences.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
    assert offences == []


def test_nothing_outside_the_registry_compares_a_backend_name() -> None:
    named = {name for kind in ("executor", "datastore", "metadata")
             for name, backend in backends.BUILTIN[kind].items()}
    named -= {"local"}  # the default executor's and datastore's name, and every default's word
    offences = []
    for relative, tree in _sources():
        if relative == "backends.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                constants = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)}
                if constants & named:
                    offences.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
    # A metadata URL's scheme is not a backend name: sqlite:/// and file:/// are paths.
    allowed = {"meta/__init__.py"}
    assert [o for o in offences if o.split(":")[0] not in allowed] == []


def test_what_the_launcher_asks_is_declared_by_the_interfaces() -> None:
    """The members the launcher, the scheduler and the temp sweep use, on the base classes."""
    for member in ("submit", "poll", "kill", "close", "running", "code_package",
                   "__enter__", "__exit__"):
        assert hasattr(Executor, member), member
    for member in ("root", "check_writable", "cleanup_temp", "close", "__enter__"):
        assert member in Storage.__annotations__ or hasattr(Storage, member), member
    for member in ("root", "storage", "close", "__enter__", "__exit__"):
        assert hasattr(DataStore, member), member
    for member in ("new_run", "run_lock", "close", "__enter__", "__exit__"):
        assert hasattr(MetadataStore, member), member
    assert backends.get("executor", "dask").remote and not backends.get("executor", "local").remote


def test_only_the_registry_imports_a_backend() -> None:
    """Executors, datastores and metadata backends are imported by name when chosen; nothing
    else imports them (a Dask worker and a deployed task share runtime/packaged_task.py, not
    the Dask executor's folder)."""
    implementations = {backend.target.partition(":")[0]
                       for kind in ("executor", "datastore", "metadata")
                       for backend in backends.BUILTIN[kind].values()}
    allowed = {
        # the S3 client flows use makes its s3fs filesystem as the S3 datastore does
        ("s3client.py", "headwater.store.s3_storage"),
        # the S3 datastore is the fsspec one with S3's own listing and multipart cleanup
        ("store/s3_storage.py", "headwater.store.fsspec_storage"),
    }
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative, here = path.relative_to(PACKAGE).as_posix(), _module_name(path)
        for name, _lazy in _import_statements(path):
            for target in implementations:
                inside = name == target or name.startswith(target + ".")
                own = here == target or here.startswith(target + ".")
                if inside and not own and (relative, name) not in allowed:
                    offences.append(f"{relative} imports {name}")
    assert offences == []

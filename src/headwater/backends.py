"""The one registry of swappable parts: every backend, by kind and name, loaded only when chosen.

A *backend* is declared by a small :class:`Backend` record: its kind, its name, the URL schemes it
serves (for datastores and metadata), the options it brings to the command line and the profiles,
and where its implementation is (``"module:callable"``, imported on first use). Declarations are
cheap to import; the implementation (Dask, fsspec, psycopg...) is imported only by :meth:`Backend.load`.

Built-in backends are listed in :data:`BUILTIN`. Packages outside headwater add their own through
a Python entry point in the group ``headwater.<kind>`` (``headwater.executors``,
``headwater.datastores``, ...) whose value is a :class:`Backend`::

    [project.entry-points."headwater.executors"]
    ray = "headwater_ray:BACKEND"

Entry points are read only when something asks for a name that is not built in, or for the full
list of names (the CLI's choices and help, the profile keys, an error): a local run with built-in
backends never scans the installed packages' metadata. See ``docs/extending.md``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from headwater.exceptions import HeadwaterException

KINDS = ("executor", "datastore", "metadata", "card", "environment", "deployer", "secrets")
"""Every kind of backend."""

ENTRY_POINT_GROUPS = {
    "executor": "headwater.executors",
    "datastore": "headwater.datastores",
    "metadata": "headwater.metadata",
    "card": "headwater.cards",
    "environment": "headwater.environments",
    "deployer": "headwater.deployers",
    "secrets": "headwater.secrets",
}


class UnknownBackendError(HeadwaterException):
    headline = "Unknown backend"


class BackendOption(NamedTuple):
    """One option a backend brings: ``--dask-address`` on the command line, ``dask_address`` in a
    profile, ``HEADWATER_DASK_ADDRESS`` in the environment."""

    key: str  # profile key and Python name, e.g. "dask_address"
    help: str
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def env(self) -> str:
        return "HEADWATER_" + self.key.upper()


class Backend(NamedTuple):
    """A backend's declaration; ``target`` (``"module:callable"``) is imported only by :meth:`load`."""

    kind: str
    name: str
    target: str
    summary: str = ""
    schemes: tuple[str, ...] = ()  # URL schemes it serves; "" is a plain path
    options: tuple[BackendOption, ...] = ()
    extra: str | None = None  # the pip extra its dependencies come with, for the error message
    catch_all: bool = False  # serves any URL scheme no other backend claims
    # An executor whose tasks run on other machines: @pypi/@conda environments are only locked
    # at launch, and each machine builds them from their locks (as it unpacks the code package).
    remote: bool = False
    # What a task needs installed to reach this datastore or metadata store (requirement
    # strings): added to every @pypi/@conda environment of a run that chose this backend, so a
    # step's isolated environment can still read and write the run's data.
    task_requires: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        """The implementation (a class or factory function), imported now."""
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = exc.name or ""
            if missing == module_name or module_name.startswith(missing + "."):
                raise
            fix = (f"pip install 'headwater[{self.extra}]'" if self.extra
                   else f"pip install {missing.split('.')[0]}")
            raise HeadwaterException(
                f"the {self.kind} backend {self.name!r} needs the package {missing!r}, "
                "which is not installed", fix=fix) from None
        return getattr(module, attr) if attr else module


def _builtin(kind: str, name: str, target: str, **kw: Any) -> Backend:
    return Backend(kind, name, target, **kw)


BUILTIN: dict[str, dict[str, Backend]] = {kind: {} for kind in KINDS}
for _b in (
    _builtin("executor", "local", "headwater.runtime.executors.local:create",
             summary="tasks forked on this machine from a warm process"),
    _builtin("executor", "spawn", "headwater.runtime.executors.spawn:create",
             summary="each task in a new interpreter on this machine, for libraries that do "
                     "not survive fork()"),
    _builtin("executor", "dask", "headwater.runtime.executors.dask:create",
             summary="tasks on a Dask cluster", extra="dask", remote=True,
             options=(BackendOption("dask_address", "The Dask scheduler of --executor dask.",
                                    "tcp://HOST:PORT"),
                      BackendOption("package_suffixes",
                                    "File suffixes packed with the code besides .py, e.g. "
                                    ".json,.txt (--executor dask).", ".SUF,.SUF"),
                      BackendOption("dask_tls_ca_file",
                                    "The Dask cluster's CA certificate (PEM), for a tls:// "
                                    "scheduler.", "FILE"),
                      BackendOption("dask_tls_cert",
                                    "This client's certificate (PEM), signed by that CA.", "FILE"),
                      BackendOption("dask_tls_key",
                                    "The key of --dask-tls-cert, unless it is in that file.",
                                    "FILE"))),
    _builtin("datastore", "local", "headwater.store.local_storage:LocalStorage",
             summary="a folder on this machine (or a shared disk)", schemes=("", "file")),
    _builtin("datastore", "s3", "headwater.store.s3_storage:S3Storage",
             summary="Amazon S3 and S3-compatible stores", schemes=("s3", "s3a"), extra="s3",
             task_requires=("s3fs>=2024.2",)),
    # Metaflow's names for the two other clouds; both go through their fsspec drivers.
    _builtin("datastore", "gs", "headwater.store.fsspec_storage:FsspecStorage",
             summary="Google Cloud Storage (gcsfs)", schemes=("gs", "gcs"), extra="gcs",
             task_requires=("gcsfs>=2024.2",)),
    _builtin("datastore", "azure", "headwater.store.fsspec_storage:FsspecStorage",
             summary="Azure Blob Storage (adlfs)", schemes=("az", "abfs", "abfss"),
             extra="azure", task_requires=("adlfs>=2024.2",)),
    _builtin("datastore", "fsspec", "headwater.store.fsspec_storage:FsspecStorage",
             summary="any other fsspec URL (memory://, hdfs://...)", catch_all=True),
    _builtin("metadata", "sqlite", "headwater.meta.sqlite:SQLiteMetadata",
             summary="one SQLite file, no server (the default)", schemes=("", "sqlite", "file")),
    _builtin("card", "default", "headwater.cards.default_card:DefaultCard",
             summary="the task, its parameters and artifacts, the graph, your components"),
    _builtin("card", "blank", "headwater.cards.default_card:BlankCard",
             summary="your components only"),
    _builtin("card", "taskspec_card", "headwater.cards.default_card:TaskSpecCard",
             summary="the task's pathspec as plain text"),
    _builtin("metadata", "postgresql", "headwater.meta.postgres:PostgresMetadata",
             summary="a PostgreSQL database shared by a team",
             schemes=("postgresql", "postgres"), extra="postgres",
             task_requires=("psycopg[binary]>=3.1",)),
    # An environment backend is a module with resolve(declared, interpreter, version, runtime)
    # -> lock text and build(lock, interpreter, folder) (see headwater.environments.prepare).
    _builtin("environment", "pypi", "headwater.environments.pypi_env",
             summary="@pypi: packages from PyPI, resolved and installed by uv", extra="pypi"),
    _builtin("environment", "conda", "headwater.environments.conda_env",
             summary="@conda: conda packages, solved and installed by py-rattler",
             extra="conda"),
    _builtin("deployer", "argo-workflows", "headwater.deployers.argo.compile:compile_all",
             summary="Argo Workflows on Kubernetes (argo-workflows create)", extra="argo"),
    # A secrets provider is a function (secret_id, options, role) -> {NAME: value} (@secrets).
    _builtin("secrets", "inline", "headwater.decorators.secrets:inline_provider",
             summary="the variables written in the source (options={'env_vars': {...}})"),
    _builtin("secrets", "env", "headwater.decorators.secrets:env_provider",
             summary="a JSON object of variables in an environment variable of the launch"),
    _builtin("deployer", "airflow", "headwater.deployers.airflow.compile:dag_file",
             summary="an Apache Airflow DAG file (airflow create)"),
):
    BUILTIN[_b.kind][_b.name] = _b
del _b

_external: dict[str, dict[str, Backend]] | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"no backend kind {kind!r}: the kinds are {', '.join(KINDS)}")


def external() -> dict[str, dict[str, Backend]]:
    """Backends other packages declare through entry points, read once per process."""
    global _external
    if _external is None:
        found: dict[str, dict[str, Backend]] = {kind: {} for kind in KINDS}
        if _may_have_entry_points():
            from importlib.metadata import entry_points

            for kind, group in ENTRY_POINT_GROUPS.items():
                for ep in entry_points(group=group):
                    found[kind][ep.name] = _declared(kind, ep.name, ep.load)
        _external = found
    return _external


def _declared(kind: str, name: str, load: Callable[[], Any]) -> Backend:
    try:
        backend = load()
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must name itself
        raise HeadwaterException(
            f"the {kind} backend {name!r} (an entry point) failed to load: "
            f"{type(exc).__name__}: {exc}", fix="fix or uninstall the package that declares it"
        ) from None
    if not isinstance(backend, Backend) or backend.kind != kind:
        raise HeadwaterException(
            f"the entry point {name!r} in {ENTRY_POINT_GROUPS[kind]} is not a {kind} Backend",
            fix="its value must be a headwater.backends.Backend(kind=..., name=..., target=...)")
    return backend


def _may_have_entry_points() -> bool:
    """Whether any installed distribution declares a ``headwater.*`` entry point group.

    A cheap scan of ``*.dist-info/entry_points.txt`` on ``sys.path`` spares the import of
    ``importlib.metadata`` (and its parse of every distribution) when none does.
    """
    return bool(_declared_groups())


def may_declare(group: str) -> bool:
    """Whether an installed distribution declares entry points in ``group``, a ``headwater.*``
    group that need not be a backend kind (``headwater.serializers``). The same scan, shared."""
    return group in _declared_groups()


_groups: frozenset[str] | None = None
_GROUP_HEADER = re.compile(rb"^\s*\[\s*(headwater\.[^\]\s]+)\s*\]", re.MULTILINE)


def _declared_groups() -> frozenset[str]:
    """The ``headwater.*`` groups installed distributions' ``entry_points.txt`` name, found by
    one scan per process (a local run scans once, for the backends and serializers alike)."""
    global _groups
    if _groups is None:
        found: set[str] = set()
        for folder in sys.path:
            try:
                entries = os.scandir(folder or ".")
            except OSError:
                continue
            with entries:
                for entry in entries:
                    if not entry.name.endswith((".dist-info", ".egg-info")):
                        continue
                    try:
                        with open(os.path.join(entry.path, "entry_points.txt"), "rb") as handle:
                            text = handle.read()
                    except OSError:
                        continue
                    if b"[headwater." in text or b"[ headwater." in text:
                        found.update(g.decode("utf-8", "replace")
                                     for g in _GROUP_HEADER.findall(text))
        _groups = frozenset(found)
    return _groups


_finders: dict[str, list[Callable[[str], Backend | None]]] = {kind: [] for kind in KINDS}


def add_finder(kind: str, finder: Callable[[str], Backend | None]) -> None:
    """Ask ``finder(name)`` for a backend of ``kind`` that is neither built in nor declared by
    an entry point, before the name is refused. The Metaflow compatibility layer adds one, for
    the secrets providers ``metaflow_extensions`` packages declare; it is called only then."""
    _check_kind(kind)
    if finder not in _finders[kind]:
        _finders[kind].append(finder)


def get(kind: str, name: str) -> Backend:
    """The backend ``name`` of ``kind``; the error lists the names there are."""
    _check_kind(kind)
    backend = BUILTIN[kind].get(name) or external()[kind].get(name)
    for finder in _finders[kind] if backend is None else ():
        backend = finder(name)
        if backend is not None:
            break
    if backend is None:
        raise UnknownBackendError(
            f"there is no {kind} backend named {name!r}",
            fix=f"the {kind} backends are: {', '.join(names(kind)) or 'none'} "
            "(packages can add more; see docs/extending.md)")
    return backend


def names(kind: str) -> list[str]:
    """Every backend name of ``kind``: built-in first, then those of installed packages."""
    _check_kind(kind)
    return [*BUILTIN[kind], *(n for n in external()[kind] if n not in BUILTIN[kind])]


def all_of(kind: str) -> list[Backend]:
    return [get(kind, name) for name in names(kind)]


def for_url(kind: str, url: str) -> tuple[Backend, str]:
    """The backend of ``kind`` serving ``url`` (by its scheme), and the scheme."""
    scheme, sep, _ = url.partition("://")
    if not sep or len(scheme) == 1:  # a plain path (C:\\ on Windows is a path too)
        scheme = ""
    # Built-in schemes first: a local path or s3:// never makes the registry read entry points.
    for backend in BUILTIN[kind].values():
        if scheme in backend.schemes:
            return backend, scheme
    for backend in external()[kind].values():
        if scheme in backend.schemes:
            return backend, scheme
    for backend in (*BUILTIN[kind].values(), *external()[kind].values()):
        if backend.catch_all:
            return backend, scheme
    served = sorted({s for b in all_of(kind) for s in b.schemes if s})
    raise UnknownBackendError(
        f"no {kind} backend serves {url!r}",
        fix=f"use a path or one of: {', '.join(s + '://' for s in served)}")


def options(kind: str) -> list[BackendOption]:
    """The options every backend of ``kind`` brings, each once."""
    seen: dict[str, BackendOption] = {}
    for backend in all_of(kind):
        for option in backend.options:
            seen.setdefault(option.key, option)
    return list(seen.values())


def chosen_options(backend: Backend, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``backend``'s own options among ``values`` (unset ones left out)."""
    return {o.key: values[o.key] for o in backend.options if values.get(o.key) is not None}

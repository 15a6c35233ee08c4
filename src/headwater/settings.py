"""Where a run's data lives, resolved once and passed explicitly (no import-time global state).

Resolution order for the datastore root, first match wins:

1. an explicit value (the ``--datastore-root`` option, or an argument to the API); a folder
   holding a ``.headwater/`` (the project's folder) means that store, in rules 1 and 2 alike;
2. ``HEADWATER_DATASTORE_ROOT``, then Metaflow's ``METAFLOW_DATASTORE_SYSROOT_LOCAL``; where
   ``HEADWATER_DATASTORE`` (or Metaflow's ``METAFLOW_DEFAULT_DATASTORE``) names another kind
   (``s3``, ``gs``, ``azure``), that kind's ``METAFLOW_DATASTORE_SYSROOT_<KIND>`` first, so the
   client reads the blobs where runs with the same settings wrote them;
3. the nearest ``.headwater/`` folder in the current directory or one of its parents;
4. a new ``.headwater/`` folder in the current directory.

For a local root the metadata database is ``<root>/meta.sqlite``. For a remote root
(``s3://bucket/prefix``, any fsspec URL) blobs go there and the database stays local, in the
folder rule 3/4 would pick, unless ``--metadata`` / ``HEADWATER_METADATA`` name one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from headwater.exceptions import HeadwaterException
from headwater.records import Record

DEFAULT_DIRNAME = ".headwater"
ROOT_ENV_VARS = ("HEADWATER_DATASTORE_ROOT", "METAFLOW_DATASTORE_SYSROOT_LOCAL")


def _is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def find_datastore_root(explicit: str | None = None, cwd: str | os.PathLike | None = None,
                        environ: Mapping[str, str] | None = None) -> str:
    """Return the datastore root to use, following the order in the module docstring.

    ``cwd`` and ``environ`` default to this process's; the Runner passes its child's, so that it
    reads the root the child will write.
    """
    env = os.environ if environ is None else environ
    here = os.fspath(cwd or os.getcwd())
    if explicit:
        return explicit if _is_url(explicit) else _holding_store(_resolved(here, explicit))
    remote = None if env.get(ROOT_ENV_VARS[0]) else _default_kind_root(env)
    if remote:
        return remote
    for var in ROOT_ENV_VARS:
        value = env.get(var)
        if value:
            if var.startswith("METAFLOW") and not value.rstrip("/").endswith(DEFAULT_DIRNAME):
                # Metaflow's sysroot is the folder *holding* .metaflow; keep ours beside it.
                value = os.path.join(value, DEFAULT_DIRNAME)
            return value if _is_url(value) else _holding_store(_resolved(here, value))
    return nearest_local_root(here)


def _holding_store(path: str) -> str:
    """``path/.headwater`` when the folder a user named holds a store there (the project's
    folder, named for the store in it: ``--datastore-root ~/proj``), else ``path`` itself.
    ``metadata('~/proj')`` in the client reads a folder the same way, so a run and the client
    given the same folder meet in the same store."""
    nested = os.path.join(path, DEFAULT_DIRNAME)
    if os.path.isdir(nested) and not os.path.exists(os.path.join(path, "meta.sqlite")):
        return nested
    return path  # a store already (a run started inside it made the .headwater below)


def _default_kind_root(env: Mapping[str, str]) -> str | None:
    """The root of the datastore kind the environment makes the default, if not local."""
    kind = env.get("HEADWATER_DATASTORE") or env.get("METAFLOW_DEFAULT_DATASTORE") or "local"
    return None if kind == "local" else metaflow_sysroot(kind, env)


def metaflow_sysroot(kind: str, environ: Mapping[str, str]) -> str | None:
    """Metaflow's root for a datastore kind, ``METAFLOW_DATASTORE_SYSROOT_<KIND>``, as a URL.
    Metaflow writes an Azure root as ``container/prefix`` (its account comes from elsewhere): a
    root without a scheme gets the first one the kind's backend serves (``az://``)."""
    value = environ.get(f"METAFLOW_DATASTORE_SYSROOT_{kind.upper()}")
    if value and "://" not in value:
        from headwater import backends

        schemes = [s for s in backends.get("datastore", kind).schemes if s]
        if schemes:
            value = f"{schemes[0]}://{value.strip('/')}"
    return value or None


def _resolved(here: str, path: str) -> str:
    """``path`` (``~`` expanded) taken from ``here``, absolute and with symlinks resolved.
    os.path rather than pathlib: a run imports nothing else that needs pathlib."""
    return os.path.realpath(os.path.join(here, os.path.expanduser(path)))


def nearest_local_root(cwd: str | os.PathLike) -> str:
    """The nearest ``.headwater/`` in ``cwd`` or a parent, else a new one in ``cwd``.

    A found folder another user could have planted is refused (:func:`check_found_root`).
    """
    here = folder = os.path.realpath(cwd)
    while True:
        candidate = os.path.join(folder, DEFAULT_DIRNAME)
        if os.path.isdir(candidate):
            check_found_root(candidate)
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.path.join(here, DEFAULT_DIRNAME)
        folder = parent


def other_local_root(root: str, folder: str | None,
                     cwd: str | os.PathLike | None = None) -> str | None:
    """The ``.headwater`` that ``folder`` (a flow file's) would use, when it is another existing
    one than ``root`` and ``root`` is what the working folder's default lookup gave.

    ``python proj/flow.py run`` from the folder above ``proj`` records the run in that folder's
    store, while the notebook in ``proj`` reads ``proj/.headwater``: the launch says so. A root
    chosen (an option, a variable, a profile, a remote URL) differs from the working folder's
    default and gets None, as does a flow whose folder has no store of its own yet.
    """
    if folder is None or _is_url(root):
        return None
    from headwater.profiles import with_profile

    env = with_profile(os.environ)
    if any(env.get(var) for var in ROOT_ENV_VARS):
        return None  # the store was named, even if it is the working folder's
    try:
        if os.path.realpath(root) != nearest_local_root(cwd or os.getcwd()):
            return None
    except HeadwaterException:
        return None
    here = os.path.realpath(folder)
    while True:
        candidate = os.path.join(here, DEFAULT_DIRNAME)
        if os.path.isdir(candidate):
            return candidate if candidate != os.path.realpath(root) else None
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def check_found_root(path: str) -> None:
    """Refuse a ``.headwater`` found by walking up from the current folder that another user
    could have put there, or could write into.

    Walking up is what makes this matter: a ``/tmp/.headwater`` made by anyone would otherwise
    receive the runs of every user working under ``/tmp``, and could hand them pickles to load.
    Refused: a folder (or link) in a folder any user may write (``/tmp``) that is neither this
    user's nor root's, and a folder any user may write into. Another user's folder elsewhere (a
    team's project folder, a bind mount in a container) is used as before; a root chosen explicitly
    (``--datastore-root``, ``HEADWATER_DATASTORE_ROOT``) is never checked: the user chose it.
    """
    import stat

    try:
        link, target = os.lstat(path), os.stat(path)
        holder = os.stat(os.path.dirname(path))
    except OSError:
        return  # gone, or unreadable: whatever opens it next says so
    me = os.geteuid()
    others_write = bool(target.st_mode & stat.S_IWOTH)
    planted = bool(holder.st_mode & stat.S_IWOTH) and link.st_uid not in (me, 0)
    if not planted and not others_write:
        return
    from headwater.exceptions import StoreError

    why = ("any user may write into it" if others_write else
           f"it belongs to another user (uid {link.st_uid}) and sits in a folder others may write")
    raise StoreError(
        f"refusing the datastore {path} found from the current folder: {why}, so another "
        "user could read these runs or plant data that loading an artifact would run",
        fix=f"remove {path} if you did not make it (or `chmod o-w` it if you did), or choose "
        "a datastore on purpose with --datastore-root PATH or HEADWATER_DATASTORE_ROOT")


def current_username() -> str:
    """The user a run is recorded under: METAFLOW_USER / HEADWATER_USER, else the login name."""
    for var in ("HEADWATER_USER", "METAFLOW_USER", "USER", "USERNAME", "LOGNAME"):
        value = os.environ.get(var)
        if value:
            return _checked_username(value, var)
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "unknown"


MAX_USERNAME = 500  # ``user:<name>`` is a system tag, and tags hold at most 512 characters


class UserNameError(HeadwaterException):
    """The user name a run would be recorded under cannot be a tag or be printed safely."""

    headline = "Invalid user name"


def _checked_username(name: str, var: str) -> str:
    """``name`` if it can be the run's ``user:<name>`` tag and be printed as it is; else an error
    naming the variable it came from (a control character in it could rewrite the terminal of
    whoever lists the runs)."""
    problem = None
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in name):
        problem = "contains a control character"
    elif ".." in f"user:{name}".split("/"):
        problem = "has a '..' path segment"
    elif len(name) > MAX_USERNAME:
        problem = f"is longer than {MAX_USERNAME} characters"
    if problem is None:
        return name
    also = "" if var == "HEADWATER_USER" else " (or HEADWATER_USER, which wins)"
    raise UserNameError(f"the user name {name[:40]!r} (from {var}) {problem}",
                        fix=f"set {var}{also} to a plain name, e.g. alice")


class Settings(Record, frozen=True):
    """Resolved configuration of one headwater process."""

    datastore_root: str
    metadata_url: str

    def __repr__(self) -> str:
        from headwater.redaction import redact

        return (f"Settings(datastore_root={redact(self.datastore_root)!r}, "
                f"metadata_url={redact(self.metadata_url)!r})")

    @classmethod
    def resolve(cls, datastore_root: str | None = None, metadata: str | None = None, *,
                cwd: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> Settings:
        from headwater.profiles import with_profile

        env = with_profile(os.environ if environ is None else environ)
        root = find_datastore_root(datastore_root, cwd, env)
        meta = metadata or env.get("HEADWATER_METADATA") or ""
        if not meta or meta == "local":
            # A remote root (s3://...) keeps blobs only; the SQLite database stays on this
            # machine, in the folder a local root would be.
            local = nearest_local_root(cwd or os.getcwd()) if _is_url(root) else root
            meta = os.path.join(local, "meta.sqlite")
        return cls(datastore_root=root, metadata_url=meta)


SPIN_FOLDER = "spin"  # beside the runs' database: its own database (and run locks)


def spin_settings(settings: Settings, cwd: str | os.PathLike | None = None) -> Settings:
    """Where ``spin`` records the tasks it re-ran: a database of its own, beside the runs' one.

    A spun task is an experiment, not history: kept apart, it never shows up in ``Flow(...).runs``
    or a run's steps, yet ``inspect_spin`` (and the Runner's ``spin``) can read it. Blobs stay in
    the run's datastore, so the artifacts a spin did not change are not copied. For a metadata
    server (Postgres) the spin database is a local file, in the folder a local root would be.
    """
    url = settings.metadata_url
    if url.startswith("sqlite://"):
        url = url.partition("://")[2]
    if "://" in url:
        url = os.path.join(nearest_local_root(cwd or os.getcwd()), "meta.sqlite")
    return Settings(datastore_root=settings.datastore_root,
                    metadata_url=os.path.join(os.path.dirname(url), SPIN_FOLDER, "meta.sqlite"))

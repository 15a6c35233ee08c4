"""The code package: a flow's folder packed into one content-addressed blob, for tasks that run
elsewhere (a remote executor's, Dask's, and a deployed flow's, Argo's and Airflow's). One module
for its whole life:

- :func:`build` packs the flow file's folder at launch (``.py`` files by default; other suffixes
  only when asked, e.g. ``--package-suffixes .json,.txt``); a symbolic link is packed only when
  it points inside the folder, so nothing outside the folder (``/etc/shadow``, ``~/.aws``) ever
  travels with the code; hidden files and folders stay out (a hidden file goes only when its
  whole name is one of the suffixes, ``--package-suffixes .env``, as in Metaflow).
- :func:`save` stores it and returns what the run records (:data:`CodeInfo`).
- :func:`unpack` fetches it on a worker into a cache folder private to the worker's user
  (created 0700, its owner and mode checked; an existing folder that another user could have
  planted is refused), unpacked into a fresh private folder and renamed into place.
- :class:`CodePackage` reads it back for ``run.code`` in the client.
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from headwater.exceptions import HeadwaterException, MetadataError, RunFailedError
from headwater.folders import private_folder_problem
from headwater.store.datastore import DataStore, blob_path

DEFAULT_SUFFIXES = (".py",)
"""What a package holds unless the user asks for more: code, never data or credentials."""

MAX_FILE_BYTES = 1 << 20  # files larger than this stay out of the code package
MAX_PACKAGE_BYTES = 50 << 20
SKIPPED_DIRS = {".git", ".headwater", ".metaflow", "__pycache__", ".venv", "venv", "node_modules",
                ".tox", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
CACHE_ENV = "HEADWATER_CODE_CACHE"

CodeInfo = dict[str, str]
"""What a run records: the blob ``key``, the flow file's ``path`` in the package, the ``module``
name the launcher used and the flow ``class``."""


class CodeCacheError(HeadwaterException):
    headline = "Unsafe code cache"


def parse_suffixes(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``".json,.txt"`` (or a list) -> the suffixes to package, ``.py`` always among them."""
    if text is None:
        return DEFAULT_SUFFIXES
    items = text.split(",") if isinstance(text, str) else list(text)
    extra = []
    for item in (i.strip() for i in items):
        if item:
            extra.append(item if item.startswith(".") else f".{item}")
    return tuple(dict.fromkeys((*DEFAULT_SUFFIXES, *extra)))


def build(flow_cls: type, suffixes: Iterable[str] = DEFAULT_SUFFIXES,
          additions: Iterable[tuple[str, str]] = ()) -> tuple[bytes, CodeInfo]:
    """A gzip tarball of the flow file's folder and where the flow is inside it.

    Hidden and cache folders, other suffixes than ``suffixes``, files over
    :data:`MAX_FILE_BYTES` and links that leave the folder are left out. ``additions`` are
    ``(file path, name in the package)`` pairs packed after the walked files (one replaces a
    walked file of its name): the files its caller was handed from above (the active
    ``metaflow_extensions`` packages, as ``metaflow_extensions/<org>/...``), then those the
    flow's own code asked for (``add_to_package`` hooks). This module never looks for either.
    The same files give the same bytes (sorted names, mtime 0), so the same blob key.
    """
    flow_file = os.path.realpath(inspect.getfile(flow_cls))
    folder = os.path.dirname(flow_file)
    named = members(flow_cls, suffixes, additions)
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, path in named.items():
            if not stat.S_ISREG(os.stat(path).st_mode):  # an addition naming a pipe would hang
                raise RunFailedError(
                    f"the code package of {flow_cls.__name__}: {path} (to be packed as "
                    f"{arcname!r}) is not a regular file", fix="add_to_package takes files; "
                    "give it the files of a folder one by one")
            with open(path, "rb") as handle:
                data = handle.read()
            total += len(data)
            if total > MAX_PACKAGE_BYTES:
                raise RunFailedError(
                    f"the code package of {flow_cls.__name__} (the folder {folder}) is over "
                    f"{MAX_PACKAGE_BYTES >> 20} MB",
                    fix="move the flow file into a folder of its own, beside only its code",
                )
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    code = {"module": flow_cls.__module__, "path": os.path.relpath(flow_file, folder),
            "class": flow_cls.__name__}
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0), code


def members(flow_cls: type, suffixes: Iterable[str] = DEFAULT_SUFFIXES,
            additions: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """What :func:`build` packs: name in the package -> the file it is read from, in order."""
    flow_file = os.path.realpath(inspect.getfile(flow_cls))
    folder = os.path.dirname(flow_file)
    named = {os.path.relpath(path, folder): path
             for path in _package_files(folder, flow_file, tuple(suffixes))}
    named.update({arcname: path for path, arcname in additions})
    return named


def _package_files(folder: str, flow_file: str, suffixes: tuple[str, ...]) -> list[str]:
    entries: list[str] = []
    for here, dirs, files in os.walk(folder):  # never descends into a linked folder
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(here, name)
            if not name.endswith(suffixes) or not _inside(path, folder):
                continue
            if name.startswith(".") and name not in suffixes:  # .secrets.py, .aws-keys.json:
                continue  # a hidden file goes only when its whole name is asked for (Metaflow's)
            if not os.path.isfile(path):
                continue
            if os.path.getsize(path) > MAX_FILE_BYTES and path != flow_file:
                continue
            entries.append(path)
    return entries


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` (after following any link) is inside ``folder``."""
    real = os.path.realpath(path)
    return os.path.commonpath([real, folder]) == folder


def save(store: DataStore, tarball: bytes, code: CodeInfo) -> CodeInfo:
    """Store the package and return what the run records."""
    return {**code, "key": store.save_bytes(tarball).key}


def cache_dir() -> str:
    """Where workers unpack code packages: ``$HEADWATER_CODE_CACHE``, else a folder of this user's
    own in the temp folder (``headwater-code-<uid>``), checked by :func:`private_dir`."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return given
    return os.path.join(tempfile.gettempdir(), f"headwater-code-{os.getuid()}")


def private_dir(path: str) -> str:
    """``path`` as a folder only this user can change: created 0700 when missing; refused when
    it is a link, belongs to someone else or is writable by others (someone could plant code
    there that this user would then run)."""
    try:
        problem = private_folder_problem(path)
    except OSError as err:
        raise CodeCacheError(
            f"the code package cache {path} cannot be made: {err.strerror or err}",
            fix=f"point {CACHE_ENV} at a folder you can create or own (mode 0700), or unset it "
            "to use one in the temp folder") from None
    if problem:
        raise CodeCacheError(
            f"the code package cache {path} {problem}: code unpacked there could have been "
            "planted by someone else, so it is not used",
            fix=f"remove it, or point {CACHE_ENV} at a folder only you can write (mode 0700), "
            "under folders no other user can change")
    return path


def unpack(store: DataStore, key: str) -> str:
    """The folder holding code package ``key``, fetched and unpacked on first use.

    The package is read through the store (which verifies its bytes against ``key``), unpacked
    into a new private folder inside the private cache, then renamed into place: a folder named
    ``key`` exists only once it is whole, and only this user can have made it.
    """
    cache = private_dir(cache_dir())
    target = os.path.join(cache, key)
    if os.path.isdir(target) and not os.path.islink(target):
        return target
    data = store.load_bytes(key, what=f"code package {key}")
    _remove_stale_staging(cache)
    staging = tempfile.mkdtemp(prefix=f".{key}.", dir=cache)  # 0700, a name no one can predict
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            _extract_data(tar, staging, key)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)  # never leave half a package behind
        if isinstance(err, tarfile.TarError):  # not even a tar archive
            raise _hostile(key, None, f"it is not a gzip tar archive ({err})") from None
        raise
    try:
        os.rename(staging, target)  # atomic: a concurrent task may have won the race
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


STALE_STAGING_S = 24 * 3600.0
"""A staging folder untouched this long was left by a worker killed mid-unpack (an unpack
takes seconds), so the next unpack removes it."""


MAX_MEMBERS = 100_000
"""More entries than any package :func:`build` makes (files over :data:`MAX_PACKAGE_BYTES` in
all are refused there): an archive past this, or past that many bytes, is not one of ours."""


_VCS_FOLDERS = (".git", ".hg")  # whose config and hooks git and hg run (see _extract_data)


def _vcs_folder(name: str) -> str | None:
    """The version control folder ``name`` is inside of (any case), if any."""
    parts = name.replace("\\", "/").lower().split("/")
    return next((folder for folder in _VCS_FOLDERS if folder in parts), None)


def _extract_data(tar: tarfile.TarFile, target: str, key: str, *, for_git_users: bool = False
                  ) -> None:
    """Unpack what :func:`build` makes, nothing else: regular files and folders only, each
    inside ``target``, within :data:`MAX_MEMBERS` entries and :data:`MAX_PACKAGE_BYTES`.
    tarfile's ``data`` filter also checks every path (no absolute name, no ``..`` out, no link
    or device). A package breaking a rule is refused whole, naming the entry.

    Python 3.10.0 to 3.10.11 lack the filter; unpacking unfiltered there would trust the archive,
    so that is refused, naming the upgrade.

    ``for_git_users`` (``headwater code``, which unpacks beside the user's own files) also
    refuses an entry inside a ``.git`` (or ``.hg``) folder: a pulled folder holding ``.git/config`` runs its
    ``core.fsmonitor`` command at the user's next ``git status`` there, and a patch holding it
    would rewrite the user's own repository's configuration. :func:`build` never packs a
    hidden folder."""
    if not hasattr(tarfile, "data_filter"):
        version = ".".join(map(str, sys.version_info[:3]))
        raise CodeCacheError(
            f"cannot unpack code package {key[:12]}: Python {version} has no safe tar extraction "
            "(tarfile's 'data' filter came in 3.10.12 and 3.11.4)",
            fix="use Python 3.10.12 or newer (3.11.4 or newer on 3.11)")
    members: list[tarfile.TarInfo] = []
    total = 0
    try:
        for member in tar:  # read one header at a time: a bomb is stopped at the limit
            why = None
            if member.name.startswith(("/", "\\")):  # the data filter would strip the '/'
                why = "has an absolute name"
            elif not (member.isreg() or member.isdir()):
                why = "is not a file or a folder (a link, a device or a pipe)"
            elif for_git_users and _vcs_folder(member.name):
                why = (f"is inside a {_vcs_folder(member.name)} folder (git or Mercurial would "
                       "read it as its own configuration)")
            elif len(members) >= MAX_MEMBERS:
                why = f"is past the {MAX_MEMBERS} entries a code package may hold"
            elif total + member.size > MAX_PACKAGE_BYTES:
                why = f"takes the package past {MAX_PACKAGE_BYTES >> 20} MB"
            else:
                tarfile.data_filter(member, target)  # absolute names, '..', odd modes
            if why:
                raise _hostile(key, member.name, why)
            total += member.size
            members.append(member)
        tar.extractall(target, members=members, filter="data")
        _close_folders(target)
    except tarfile.FilterError as err:
        raise _hostile(key, getattr(err, "tarinfo", None) and err.tarinfo.name, str(err)) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile):
            raise
        raise _hostile(key, None, f"it is not a whole gzip tar archive ({err})") from None


def _close_folders(target: str) -> None:
    """Take other users' write away from every folder just unpacked into ``target``.

    tarfile's data filter makes each folder with ``mkdir``'s default (0777 less the umask),
    whatever the archive says: under umask 000 anyone could then add a module to a pulled
    run's code (``code pull``) before its user ran it. ``target`` is still private here (a
    fresh 0700 folder), so nobody could have used the moment before."""
    for root, folders, _ in os.walk(target):
        for name in folders:
            path = os.path.join(root, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if mode & 0o002:
                os.chmod(path, mode & ~0o002)


MAX_TAR_BYTES = MAX_PACKAGE_BYTES + MAX_MEMBERS * 4 * 512 + (1 << 20)
"""The most a package :func:`build` makes can take once unzipped: its files' bytes, and for each
entry a header, a long-name header and the padding to 512-byte blocks, then the archive's end."""


def _unzipped(packed: bytes, key: str) -> bytes:
    """``packed`` unzipped in memory, read no further than :data:`MAX_TAR_BYTES`: a few MB of
    gzip can hold many GB of zeros, which ``gzip.decompress`` would allocate whole before the
    archive's own limits are checked (the client reads a package in memory; workers stream it)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as unzipping:
            data = unzipping.read(MAX_TAR_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise _hostile(key, None, f"it is not a whole gzip tar archive ({err})") from None
    if len(data) > MAX_TAR_BYTES:
        raise _hostile(key, None, f"it unzips to more than the {MAX_TAR_BYTES >> 20} MB a "
                       "package headwater makes can take (a zip bomb)")
    return data


def _hostile(key: str, entry: str | None, why: str) -> CodeCacheError:
    what = f"its entry {entry!r} {why}" if entry else why
    return CodeCacheError(
        f"code package {key[:12]} is refused: {what}; headwater never makes such a package, "
        "so it was written into the datastore by something else",
        fix="find out who can write the datastore (anyone who can may run code as you), "
        "then run the flow again so that its package is stored anew")


def _damaged_code(run_pathspec: str, why: str) -> MetadataError:
    return MetadataError(
        f"the metadata record of run {run_pathspec} is damaged: its code field cannot be read "
        f"({why[:200]})",
        fix="the metadata database was changed outside headwater: restore it from a backup, or "
        f"delete the run (headwater delete {run_pathspec})")


def _remove_stale_staging(cache: str) -> None:
    now = time.time()
    try:
        entries = list(os.scandir(cache))
    except OSError:
        return
    for entry in entries:
        try:
            stale = (entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
                     and now - entry.stat(follow_symlinks=False).st_mtime > STALE_STAGING_S)
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)


class CodePackage:
    """The code of one run: ``flowspec`` (the flow file's text), ``tarball``, ``extract()``.

    ``store`` gives the datastore holding the package when it is first needed.
    """

    def __init__(self, run_pathspec: str, info: dict[str, Any],
                 store: Callable[[], DataStore]) -> None:
        self._run = run_pathspec
        self._info = dict(info)
        self._store = store
        self._data: bytes | None = None

    @classmethod
    def from_json(cls, run_pathspec: str, text: str | None,
                  store: Callable[[], DataStore]) -> CodePackage | None:
        """The package a run recorded (``None`` if it kept none). A record no headwater wrote
        (not JSON, no text ``key`` and ``path``, a key that is no content key) is a
        :class:`MetadataError` naming the run, not a ``KeyError`` from deep inside."""
        if not text:
            return None
        try:
            info = json.loads(text)
        except ValueError as err:
            raise _damaged_code(run_pathspec, f"it is not JSON ({err})") from None
        except RecursionError:  # [[[[...]]]]: JSON, but deeper than Python's stack
            raise _damaged_code(run_pathspec, "it is nested too deeply to read") from None
        if not (isinstance(info, dict) and isinstance(info.get("path"), str)
                and isinstance(info.get("key"), str) and info["key"].isascii()
                and info["key"].isalnum()):
            raise _damaged_code(run_pathspec, "it is not an object with a content 'key' and a "
                                "'path'")
        return cls(run_pathspec, info, store)

    @property
    def key(self) -> str:
        """The content key of the package blob: the same code always has the same key."""
        return self._info["key"]

    @property
    def path(self) -> str:
        """Where the package blob is, under the datastore root."""
        root = self._store().root.rstrip("/")
        return f"{root}/{blob_path(self.key)}"

    @property
    def script_name(self) -> str:
        """The flow file's path inside the package (relative to the flow's folder)."""
        return self._info["path"]

    @property
    def info(self) -> dict[str, Any]:
        """What was recorded with the run: ``key``, ``path``, ``module`` and ``class``."""
        return dict(self._info)

    def _bytes(self) -> bytes:
        if self._data is None:
            packed = self._store().load_bytes(self.key, what=f"the code package of {self._run}")
            self._data = _unzipped(packed, self.key)
        return self._data

    @property
    def tarball(self) -> tarfile.TarFile:
        """The package as an open (in-memory) tar archive."""
        try:
            return tarfile.open(fileobj=io.BytesIO(self._bytes()), mode="r:")
        except tarfile.TarError as err:  # gzip around something else
            raise _hostile(self.key, None, f"it is not a tar archive ({err})") from None

    @property
    def files(self) -> list[str]:
        """The paths in the package, relative to the flow's folder."""
        with self.tarball as tar:
            return tar.getnames()

    @property
    def flowspec(self) -> str:
        """The source text of the flow file, as the run's tasks imported it."""
        with self.tarball as tar:
            member = tar.extractfile(self.script_name)
            assert member is not None
            return member.read().decode("utf-8")

    def extract(self, path: str | os.PathLike[str] | None = None) -> str:
        """Unpack the package into ``path`` (a new temporary folder if None); returns it."""
        target = str(path) if path is not None else tempfile.mkdtemp(prefix="headwater-code-")
        with self.tarball as tar:
            _extract_data(tar, target, self.key, for_git_users=True)
        return target

    def __repr__(self) -> str:
        return f"CodePackage('{self._run}', {self.script_name}, key={self.key[:12]}...)"

"""A datastore in a local folder (or a shared disk): the embedded default, no fsspec import."""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import stat
import time
from collections.abc import Container, Iterable, Iterator, Sequence

from headwater.exceptions import StoreError
from headwater.folders import FILE_MODE, make_dirs
from headwater.store.storage import (
    TEMP_PREFIX,
    Part,
    Stat,
    Storage,
    _check_key,
    _is_temp_name,
    _temp_name,
)

TRASH_PREFIX = TEMP_PREFIX + "gc-"
"""A blob being deleted is first renamed to this prefix + its name (a temp name: never read)."""

MMAP_MIN = 64 * 1024
"""Smaller files are read into a private buffer: mapping costs two syscalls and page faults."""


class LocalStorage(Storage):
    """Blobs in a local folder.

    Writes go to a temp file in the target folder and are renamed into place (``os.replace`` is
    atomic on POSIX and Windows). Folders are created on the first write into them.

    Writes are not fsynced by default. A killed process cannot lose data already handed to the
    kernel, and a machine crash that loses page-cache data leaves a file whose content no longer
    matches its hash, which every verified read detects. Set ``HEADWATER_FSYNC=1`` (or pass
    ``fsync=True``) when the files must survive power loss, e.g. on a shared network filesystem.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool | None = None) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.fsync = os.environ.get("HEADWATER_FSYNC") == "1" if fsync is None else fsync

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *_check_key(key))

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        # A stat is ~1 us on a local disk: checking one by one is already the batch.
        return {key for key in keys if os.path.isfile(self._path(key))}

    def put(self, key: str, parts: Sequence[Part]) -> None:
        path = self._path(key)
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, _temp_name(name))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileNotFoundError:
            make_dirs(folder)  # never writable by others, whatever the umask (folders.py)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with open(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        if self.fsync:
            _fsync_dir(folder)

    def read(self, key: str) -> memoryview:
        """Memory-map the file copy-on-write: zero-copy, writable, and private to this process.

        Only a regular file is read, never through a symlink: headwater writes every blob as
        one (a temp file renamed into place), so a link, a named pipe or a device at a key was
        put there by someone else, to show a reader's own files as a log (a live log is not
        checked against a hash) or to hang every reader on a pipe's open."""
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            raise _not_a_blob(self.root, key, path, "a symbolic link") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise _not_a_blob(self.root, key, path, _kind_of(info.st_mode))
        with open(fd, "rb") as f:
            size = info.st_size
            if size >= MMAP_MIN:
                return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))
            buf = bytearray(size)
            got = f.readinto(buf)
            return memoryview(buf)[:got]

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self._path(key)).st_size
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        top = os.path.join(self.root, *_check_key(folder)) if folder else self.root
        found = []
        for dirpath, _, files in os.walk(top):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            base = "" if rel == "." else rel + "/"
            found += [base + f for f in files if not _is_temp_name(f)]
        return sorted(k for k in found if k.startswith(prefix))

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for dirpath, _, files in os.walk(self.root):
            for name in filter(_is_temp_name, files):
                path = os.path.join(dirpath, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass  # its writer finished or another cleaner got there first
        return removed


    # -- garbage collection: touch, scan, and delete by rename-then-check --------------------

    def touch(self, key: str) -> bool:
        try:
            os.utime(self._path(key))
        except FileNotFoundError:
            return False
        except PermissionError:  # another user's file: it exists, but we cannot refresh it
            return os.path.isfile(self._path(key))
        return True

    def scan(self, prefix: str) -> Iterator[Stat]:
        folder, _, _ = prefix.rpartition("/")
        top = os.path.join(self.root, *_check_key(folder)) if folder else self.root
        for dirpath, _, files in os.walk(top):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            base = "" if rel == "." else rel + "/"
            for name in files:
                key = base + name
                if _is_temp_name(name) or not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                yield key, st.st_size, st.st_mtime

    def delete_unless_newer(self, key: str, cutoff: float) -> int | None:
        """Rename the file out of the way first, then look at its time: a writer that touched it
        before the rename left a fresh time (it is put back); one that touches it after finds
        no file and writes it again. Either way no writer believes in a file that is gone."""
        path = self._path(key)
        folder, name = os.path.split(path)
        trash = os.path.join(folder, TRASH_PREFIX + name)
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return None
        return _settle(trash, path, cutoff)

    def recover_deletions(self, cutoff: float, keep: Container[str]) -> int:
        settled = 0
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                if name.startswith(TRASH_PREFIX):
                    original = name[len(TRASH_PREFIX):]
                    _settle(os.path.join(dirpath, name), os.path.join(dirpath, original),
                            cutoff, restore=original in keep)
                    settled += 1
        return settled


def _settle(trash: str, path: str, cutoff: float, *, restore: bool = False) -> int | None:
    """Unlink ``trash`` if it is older than ``cutoff``, else (or if ``restore``) put it back
    at ``path``."""
    try:
        st = os.stat(trash)
        if restore or st.st_mtime >= cutoff:
            os.replace(trash, path)  # a writer may have written it again: same bytes
            return None
        os.unlink(trash)
    except FileNotFoundError:
        return None
    return st.st_size


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where making a link needs rights
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a named pipe's open returns at once; a file ignores it


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "no regular file"


def _not_a_blob(root: str, key: str, path: str, kind: str) -> StoreError:
    return StoreError(
        f"the datastore {root} holds {kind} where its key {key} belongs ({path}); headwater "
        "writes every blob as a regular file, so someone else put it there, and it is not read",
        fix=f"delete {path} (a blob its run needs is then missing: rerun that run), and check "
        "who else can write the datastore's folders")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(folder: str) -> None:
    """Persist a rename: on POSIX the directory entry needs its own fsync."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

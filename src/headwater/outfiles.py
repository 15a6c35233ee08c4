"""Files a command writes where the user said (``dump --file``, ``--run-id-file``).

Such a path is often in a shared folder (``/tmp``). Writing it with ``open(path, "w")``, or
through a temporary name anyone can guess (``.out.pkl.<pid>.partial``), writes through whatever
symbolic link another user planted at that name. :func:`replace_file` follows only links this
user or root made (``/dev/stdout`` is root's), writes a new file with a name no one can guess
(``mkstemp``: created exclusively, mode 0600) and renames it over the path: a rename replaces a
link, never its target, and a reader never sees half a file. A device or a pipe at the path
(``/dev/stdout``, a FIFO) is written in place, never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing's names only for checkers: a local run need not import them
    from collections.abc import Callable
    from typing import BinaryIO

    #: what :func:`replace_file` writes: the bytes, or a function writing them to the open file
    #: (``lambda f: pickle.dump(value, f)``), so a large value is never held twice in memory
    Content = bytes | Callable[[BinaryIO], object]

SHARED_FILE_MODE = 0o664  # as folders.FILE_MODE: the group keeps what the umask gives it
_MAX_LINKS = 40  # as the kernel's own limit on a chain of links


def replace_file(path: str, data: Content, *, private: bool = True, secret: bool = False) -> None:
    """Put ``data`` at ``path`` (bytes, or a function writing them to the open file). A new
    file is private (0600), or with ``private=False`` gets the mode ``open`` would give it but
    never write for others (0664 less the umask: a DAG file Airflow's scheduler reads, which
    under umask 000 anyone could have turned into other Python); an existing regular file keeps
    its mode, unless ``secret``: data that may carry a password (a metadata URL) is left 0600
    whatever mode the file it replaces had. Raises OSError as ``open`` would, and when
    ``path`` is a link another user made."""
    target = trusted_target(path)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        _write_in_place(target, data)  # a device or a pipe: /dev/stdout, /dev/null, a FIFO
        return
    import tempfile  # only when such a file is written

    try:
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(target),
                                    prefix=f".{os.path.basename(target)}.", suffix=".partial")
    except PermissionError:
        if old is None:
            raise
        if secret:
            os.chmod(target, 0o600)  # before the data is in it; not ours to change: an error
        _write_in_place(target, data)  # a file this user may write, in a folder it may not
        return
    try:
        if old is not None and not secret:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
        elif not private:
            os.fchmod(fd, SHARED_FILE_MODE & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            _write(handle, data)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def trusted_target(path: str) -> str:
    """``path`` with the links this user or root made followed (absolute); a link another user
    made is refused (the kernel's ``protected_symlinks`` does the same, in sticky folders only)."""
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return current
        if not stat.S_ISLNK(info.st_mode):
            return current
        if info.st_uid not in (os.getuid(), 0):
            raise OSError(errno.EACCES, f"{current} is a symbolic link made by another user "
                          f"(uid {info.st_uid}); headwater does not write through it")
        current = os.path.join(os.path.dirname(current), os.readlink(current))
        current = os.path.abspath(current)
    raise OSError(errno.ELOOP, f"too many levels of symbolic links at {path}")


def current_umask() -> int:
    """This process's umask, read without changing it (``os.umask`` sets it while it reads,
    which another thread's new file could catch); the change-and-restore is the fallback."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _write_in_place(target: str, data: Content) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "wb") as handle:
        _write(handle, data)


def _write(handle: BinaryIO, data: Content) -> None:
    if isinstance(data, bytes):
        handle.write(data)
    else:
        data(handle)

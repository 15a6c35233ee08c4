"""Folders headwater makes for its own data, closed to other users' writes whatever the umask.

A datastore holds pickles that loading an artifact runs, so a folder anyone may write is a folder
anyone may plant code in (docs/security.md, Trust model). ``os.makedirs`` gives each folder
``0777`` less the umask: under a umask of ``000``, the default of many containers and some CI
images, the first run made a ``.headwater`` anyone could write, and the next run from the same
folder refused it (``settings.check_found_root``). :func:`make_dirs` makes each missing folder
``0775`` less the umask instead: the group keeps what the umask gives it (a team sharing a
datastore under ``umask 002``), others never get to write.
"""

from __future__ import annotations

import os
import stat

FOLDER_MODE = 0o775
"""The most a folder headwater makes allows: no write for other users."""

FILE_MODE = 0o664
"""The same for a file headwater makes (a blob, a record)."""


def make_dirs(path: str, mode: int = FOLDER_MODE) -> None:
    """``os.makedirs(path, exist_ok=True)``, every folder it creates at most ``mode``
    (``os.makedirs`` and ``Path.mkdir(parents=True)`` apply theirs to the last folder only: a
    cache under a missing ``~/.cache`` made that ``~/.cache`` anyone could write, umask 000)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_dirs(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def _make_private_parents(path: str) -> None:
    """Make ``path`` and each missing folder above it 0700, from the nearest one that exists.

    That one (and what leads to it) is the user's choice, links included; below it, each new
    folder is made and then opened relative to the one before it with ``O_NOFOLLOW``, so if
    someone swaps a folder just made for a link (possible where the existing folder is one
    others may write, without the sticky bit), the next step fails rather than following it."""
    path = os.path.abspath(path)
    missing: list[str] = []
    base = path
    while not os.path.lexists(base):
        missing.append(os.path.basename(base))
        parent = os.path.dirname(base)
        if parent == base:
            break
        base = parent
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    here = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in reversed(missing):
            try:
                os.mkdir(name, 0o700, dir_fd=here)
            except FileExistsError:
                pass  # made meanwhile (another task of this run): checked by opening it
            below = os.open(name, flags, dir_fd=here)
            os.close(here)
            here = below
            if os.fstat(here).st_uid != os.getuid():
                raise PermissionError(f"{name} was made by another user meanwhile")
    finally:
        os.close(here)


def umask_closed_to_others() -> int:
    """This process's umask with write for others (and the group) taken away, for a tool
    headwater runs to fill a cache with (uv, rattler): under umask 000 they made their caches
    (``~/.cache/uv``) anyone could write, and so plant a wheel in."""
    from headwater.outfiles import current_umask  # the one reader of the umask

    return current_umask() | 0o022


def private_folder_problem(path: str) -> str | None:
    """Make ``path`` a folder only this user can change (created ``0700`` when missing) and say
    what is wrong with it, or None: a link, another user's folder or one others can write could
    hold files planted for this user to open or run. The caller raises its own error, naming
    what the folder is for.

    The folders above it must be this user's or root's, and none writable by anyone unless
    sticky (``/tmp``), and no link on the way may be another user's
    (:func:`ancestor_problem`): whoever can rename entries of a folder above the cache can swap
    the checked cache for a folder of their own between the check and its use.

    Missing folders above ``path`` are made too, each 0700 and each entered without following a
    link (:func:`_make_private_parents`): a ``HEADWATER_CODE_CACHE`` under a folder not made yet
    was a ``FileNotFoundError``. Raises ``OSError`` when a folder cannot be made (no permission,
    a file in the way, a link put where a new folder was just made)."""
    above = ancestor_problem(path)
    if above:
        return above
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        _make_private_parents(path)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder (a link or a file)"
    if info.st_uid != os.getuid():
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o022:
        return f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _owned_by_us_or_root(info: os.stat_result) -> bool:
    return info.st_uid in (os.getuid(), 0)


def ancestor_problem(path: str) -> str | None:
    """What makes the folders leading to ``path`` unsafe to keep a private folder under, or None.

    A private folder is only as private as the folders holding it: the owner of a folder above
    (or anyone who may write to one without the sticky bit) can rename the checked folder away
    and put a folder or link of their own in its place after the check. So each existing folder
    above ``path``, once links are followed, must belong to this user or root and be writable by
    anyone only with the sticky bit (write for the group is left to the user's choice of group,
    as for a datastore: under a umask of 002, the default of many systems, every folder the
    user makes is group-writable, the group being the user's own); and each link met on the way as written must be this user's
    or root's (a link another user made in ``/tmp`` can be replaced by them at any time).
    Folders not made yet are made 0700 by this user, so they need no check."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)[1:]
    prefix = os.sep
    for part in parts[:-1]:
        prefix = os.path.join(prefix, part)
        try:
            info = os.lstat(prefix)
        except OSError:
            break
        if stat.S_ISLNK(info.st_mode) and not _owned_by_us_or_root(info):
            return (f"is reached through {prefix}, a link another user (uid {info.st_uid}) "
                    "made and may point elsewhere at any time")
    real = os.path.realpath(os.path.dirname(path))
    while True:
        try:
            info = os.stat(real)
        except OSError:
            info = None  # not made yet: made private by this user, checked when it is
        if info is not None:
            if not _owned_by_us_or_root(info):
                return (f"is inside {real}, which belongs to another user (uid {info.st_uid}), "
                        "who could swap the folder for one of their own")
            if info.st_mode & 0o002 and not info.st_mode & stat.S_ISVTX:
                return (f"is inside {real}, which anyone can write (mode "
                        f"{stat.S_IMODE(info.st_mode):o}, no sticky bit), so they could swap the "
                        "folder for one of their own")
        parent = os.path.dirname(real)
        if parent == real:
            return None
        real = parent

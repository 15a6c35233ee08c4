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

FOLDER_MODE = 0o775
"""The most a folder headwater makes allows: no write for other users."""

FILE_MODE = 0o664
"""The same for a file headwater makes (a blob, a record)."""


def make_dirs(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)``, every folder it creates at most :data:`FOLDER_MODE`
    (``os.makedirs`` applies its mode to the last folder only)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_dirs(parent)
    try:
        os.mkdir(path, FOLDER_MODE)
    except FileExistsError:
        if not os.path.isdir(path):
            raise

"""Where environments and their locks are kept: a private folder per user, shared across runs.

``$HEADWATER_ENV_CACHE``, else ``$XDG_CACHE_HOME/headwater/environments``, else
``~/.cache/headwater/environments``. Inside: ``locks/`` (declaration hash -> lock, so a later
run with the same declaration does not resolve again), ``envs/`` (lock hash -> a built
environment) and ``runtime/`` (a link to the headwater package the environments import).
Every folder is created 0700 and must belong to the user; nothing is written through a
symlink headwater did not make.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from headwater.exceptions import StepEnvironmentError

CACHE_ENV = "HEADWATER_ENV_CACHE"


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:  # made absolute: environment paths are handed to processes in other folders
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "headwater" / "environments"


def private_dir(path: Path) -> Path:
    """``path`` created 0700 if missing (and each missing folder above it, such as
    ``~/.cache``); refused if it is a symlink or not the user's own, or if a folder above it
    lets another user swap it for their own (:func:`headwater.folders.ancestor_problem`: the
    environments built here are the interpreters and packages tasks run)."""
    from headwater.folders import ancestor_problem, make_dirs

    above = ancestor_problem(str(path))
    if above:
        raise StepEnvironmentError(
            f"the environment cache {path} {above}: an environment there could be replaced "
            "by someone else's, so it is not used",
            fix=f"point {CACHE_ENV} at a folder of your own, under folders no other user can "
            "change (the default, ~/.cache/headwater/environments, is)")
    make_dirs(str(path), 0o700)
    info = os.lstat(path)
    if os.path.islink(path) or info.st_uid != os.getuid():
        raise StepEnvironmentError(
            f"the environment cache {path} is a symlink or belongs to another user",
            fix=f"remove it, or point {CACHE_ENV} at a folder of your own")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def section(name: str) -> Path:
    """``locks``, ``envs`` or ``runtime`` under the cache root (all private)."""
    return private_dir(private_dir(cache_root()) / name)


def staging_dir(parent: Path, final_name: str) -> Path:
    """A fresh folder name beside ``parent/final_name`` to build in before :func:`publish`.

    The name carries its builder (``pid@host``), so a build that was killed can be told from one
    in progress and swept away later (:func:`sweep_stale`).
    """
    return parent / f".{final_name}.{uuid.uuid4().hex}.{os.getpid()}@{socket.gethostname()}.tmp"


def _builder_gone(name: str) -> bool:
    """Whether the staging folder ``name`` belongs to a process of this host that has ended."""
    parts = name[1:-len(".tmp")].split(".", 2)
    if len(parts) != 3 or "@" not in parts[2]:
        return False  # not a staging folder of this format: leave it
    pid, host = parts[2].split("@", 1)
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's build (a shared cache): it cannot be checked from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_stale(parent: Path) -> list[str]:
    """Remove the staging folders under ``parent`` whose build was killed; their names."""
    swept = []
    for entry in os.scandir(parent):
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and _builder_gone(entry.name):
            shutil.rmtree(entry.path, ignore_errors=True)
            swept.append(entry.name)
    return swept


def publish(staging: Path, target: Path,
            complete: Callable[[Path], bool] | None = None) -> None:
    """Move a finished build into place atomically; if another build won the race, keep its.

    A ``target`` that is there but not ``complete`` (a folder damaged by hand, or half deleted)
    is never kept: it is moved aside and replaced by this build. Without ``complete``, any
    folder there counts as complete.
    """
    for _ in range(3):
        try:
            os.rename(staging, target)
            return
        except OSError:
            if not target.is_dir():
                raise
            if complete is None or complete(target):
                shutil.rmtree(staging, ignore_errors=True)
                return
            broken = staging_dir(target.parent, target.name)
            try:
                os.rename(target, broken)
            except FileNotFoundError:
                continue  # another process moved it first
            shutil.rmtree(broken, ignore_errors=True)
    raise StepEnvironmentError(f"cannot move the environment built in {staging} to {target}",
                               fix=f"remove {target} and run again")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def runtime_overlay() -> Path:
    """A folder holding only a link to the headwater package this process runs.

    An environment's interpreter gets it on its path: headwater itself is importable there
    without exposing the rest of the launching interpreter's site-packages.
    """
    package = Path(__file__).resolve().parent.parent  # headwater/, this module's grandparent
    name = hashlib.sha256(str(package).encode()).hexdigest()[:16]
    folder = section("runtime") / name
    if not (folder / "headwater").is_symlink():
        staging = staging_dir(folder.parent, name)
        staging.mkdir(mode=0o700)
        os.symlink(package, staging / "headwater")
        publish(staging, folder, lambda done: (done / "headwater").is_symlink())
    return folder

"""Write a ``metaflow`` package that forwards to headwater, for ``python flow.py`` unchanged.

``headwater run flow.py`` aliases ``metaflow`` for its own process. A team that wants the plain
``python flow.py run`` (a Makefile, a CI job, a test harness) puts this small package first on
``PYTHONPATH`` instead; the real ``metaflow`` stays installed and untouched elsewhere.

Writing it is careful with what is already there: a ``metaflow`` folder headwater did not write
(a real Metaflow checkout, say) is refused unless ``force=True`` replaces it, and nothing is ever
written through a symbolic link (a linked ``metaflow`` folder or a linked file in it is refused,
with or without ``force``), so the command cannot be turned into a way to overwrite another file.
Writing over a shim headwater wrote is fine: the command can be run again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from headwater.compat.modules import DYNAMIC, MAIN, PRIVATE, SERVED, packages
from headwater.exceptions import HeadwaterException
from headwater.folders import FOLDER_MODE, make_dirs

_HEADER = '"""Forwarding package written by `headwater shim`: metaflow\'s names, served by headwater."""\n'


def _body(target: str) -> str:
    if not target:
        return ""
    return (f"from {target} import *  # noqa: F401,F403\n"
            f"from {target} import __all__  # noqa: F401\n")


def _file_of(package: Path, name: str, folders: set[str]) -> Path:
    parts = name.split(".")[1:]
    if name in folders:
        return package.joinpath(*parts, "__init__.py")
    return package.joinpath(*parts[:-1], parts[-1] + ".py") if parts else package / "__init__.py"


class ShimError(HeadwaterException):
    """``headwater shim`` refused to write: the path is not ours to overwrite."""

    headline = "Cannot write the shim"


def write_shim(folder: str | Path, *, force: bool = False) -> Path:
    """Create ``folder/metaflow/`` and return it; put ``folder`` first on PYTHONPATH to use it.

    ``force`` replaces a ``metaflow`` folder (or file) headwater did not write; symbolic links
    are refused either way (see the module docstring).
    """
    package = Path(folder).expanduser().resolve() / "metaflow"
    try:
        _make_room(package, force)
        make_dirs(str(package.parent))  # never a folder others may write (umask 000)
        _make_folder(package, package)
        folders = packages() | {"metaflow"}
        for name, target in SERVED.items():
            path = _file_of(package, name, folders)
            for depth in range(len(path.relative_to(package).parts) - 1):
                _make_folder(package.joinpath(*path.relative_to(package).parts[:depth + 1]),
                             package)
            body = _body(target)
            if name == "metaflow":
                body += f"from {target} import __getattr__, __version__  # noqa: F401\n"
            elif name in DYNAMIC:
                body += f"from {target} import __getattr__  # noqa: F401\n"
            for private in PRIVATE.get(name, ()):
                body += f"from {target} import {private}  # noqa: F401\n"
            if name in MAIN:
                body += f"\nif __name__ == \"__main__\":\n    {MAIN[name]}()\n"
            _write_file(path, _HEADER + body)
    except OSError as exc:  # a file where a folder belongs, no permission, a read-only disk
        raise ShimError(
            f"cannot write {package}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else ""),
            fix="give headwater shim a folder you can write (it is created when missing)",
        ) from None
    return package


def _make_folder(path: Path, package: Path) -> None:
    """Create ``path`` (one level) unless it exists; a link there is refused, so no file is ever
    written into a folder a link leads to. A new folder is never one others may write, whatever
    the umask: under umask 000 anyone could have put a module in the package ``import
    metaflow`` loads."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(FOLDER_MODE)
    if stat.S_ISLNK(path.lstat().st_mode):
        raise ShimError(
            f"{path} is a symbolic link (to {os.readlink(path)}); headwater shim never writes "
            "through a link",
            fix=f"remove the link (rm {path}), then run headwater shim again",
        )
    if not path.is_dir():
        raise ShimError(
            f"{path} is a file where the shim needs a folder; it was left untouched",
            fix=f"replace the whole shim with headwater shim --force {package.parent}",
        )


def _make_room(package: Path, force: bool) -> None:
    """Refuse, or clear the way for, whatever already sits at ``package``."""
    try:
        info = package.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise ShimError(
            f"{package} is a symbolic link (to {os.readlink(package)}); headwater shim never "
            "writes through a link",
            fix=f"remove the link (rm {package}) or choose another folder, then run headwater "
            "shim again",
        )
    if stat.S_ISDIR(info.st_mode) and _written_by_headwater(package):
        return
    if not force:
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "a file"
        raise ShimError(
            f"{package} already exists and is {what} headwater shim did not write (a real "
            "metaflow package?); it was left untouched",
            fix=f"choose another folder, or replace it with headwater shim --force {package.parent}",
        )
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(package)  # removes links inside as links, never what they point to
    else:
        package.unlink()


def _written_by_headwater(package: Path) -> bool:
    """Does ``package`` hold our ``__init__.py`` (a plain file starting with our header)?"""
    init = package / "__init__.py"
    try:
        if not stat.S_ISREG(init.lstat().st_mode):
            return False
        with open(init, encoding="utf-8", errors="replace") as handle:
            return handle.read(len(_HEADER)) == _HEADER
    except OSError:
        return False


def _write_file(path: Path, text: str) -> None:
    """Write ``path`` whole through a temporary file renamed over it: a rename replaces a link
    itself, never its target. A link found there is refused rather than replaced."""
    try:
        if stat.S_ISLNK(path.lstat().st_mode):
            raise ShimError(
                f"{path} is a symbolic link (to {os.readlink(path)}); headwater shim never "
                "writes through a link",
                fix=f"remove the link (rm {path}), then run headwater shim again",
            )
    except FileNotFoundError:
        pass
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise

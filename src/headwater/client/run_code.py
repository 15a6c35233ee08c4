"""A run's code package against the files here: what ``headwater code pull|diff|diff-runs|patch``
(and ``metaflow code ...`` through the shim) do, with the CLI only parsing.

A package is unpacked by :meth:`CodePackage.extract`, the same checked unpacking the workers use
(regular files and folders only: an entry with an absolute name, a ``..`` or a link refuses the
whole package), into a new private folder (``mkdtemp``, mode 0700) that is removed afterwards.
``pull`` unpacks into a private folder beside the destination and renames it into place, so
nothing is ever written through a link at the destination, and a destination that exists is
never touched.

Only runs whose tasks ran from a code package have one: ``--executor dask`` and deployed runs
(``argo-workflows``, ``airflow``). Local runs ran the flow's files in place, as Metaflow's local
runs do; asking for their code says so, naming the run and how to get a package next time.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from headwater.client.code_diff import FolderDiff, diff_folders
from headwater.client.core import Run
from headwater.exceptions import HeadwaterException, NotFoundError
from headwater.folders import FOLDER_MODE, make_dirs
from headwater.meta.tags import LOCAL_RUNTIME
from headwater.outfiles import replace_file
from headwater.store.code_package import CodePackage


class NoCodePackageError(NotFoundError):
    """The run exists but kept no code package (its tasks ran the flow's files in place)."""

    headline = "No code package"


class CodeDestinationError(HeadwaterException):
    """``pull --dir`` or ``patch --file`` names a path that is already there."""

    headline = "Destination exists"


def package_of(pathspec: str) -> CodePackage:
    """The code package of run ``pathspec`` (in any namespace, as Metaflow's command reads it)."""
    run = Run(pathspec, _namespace_check=False)
    code = run.code
    if code is None:
        runtime = next((t.split(":", 1)[1] for t in run.system_tags
                        if t.startswith("runtime:")), LOCAL_RUNTIME)
        executor = "local" if runtime == LOCAL_RUNTIME else runtime
        raise NoCodePackageError(
            f"run {pathspec} has no code package: it ran on the {executor} executor, whose "
            "tasks run the flow's files in place, so no copy of its code was kept",
            fix="runs whose tasks run from a package keep one: run the flow with `--executor "
            "dask`, or deploy it (argo-workflows create, airflow create); of this run, the "
            "flow's files as they are now are all there is")
    return code


@contextlib.contextmanager
def unpacked(pathspec: str) -> Iterator[str]:
    """Run ``pathspec``'s code, unpacked into a new private folder removed on leaving."""
    with _unpacked(package_of(pathspec)) as folder:
        yield folder


@contextlib.contextmanager
def _unpacked(code: CodePackage) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="headwater-code-")
    try:
        code.extract(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def default_pull_dir(pathspec: str) -> str:
    """Where ``pull`` puts the code unless told: ``helloflow_3_code`` for ``HelloFlow/3``."""
    return pathspec.lower().replace("/", "_") + "_code"


def default_patch_file(pathspec: str) -> str:
    """Where ``patch`` writes unless told: ``helloflow_3.patch`` for ``HelloFlow/3``."""
    return pathspec.lower().replace("/", "_") + ".patch"


def pull(pathspec: str, destination: str | None = None) -> str:
    """Unpack run ``pathspec``'s code into ``destination`` (a new folder); returns its path.

    A destination that exists (a folder, a file, a link, even a dangling one) is refused."""
    target = os.path.abspath(destination or default_pull_dir(pathspec))
    code = package_of(pathspec)
    _refuse_existing(target, pathspec, "--dir")
    parent = os.path.dirname(target)
    make_dirs(parent)  # never a folder others may write, whatever the umask
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        code.extract(staging)
        # a folder as mkdir would make it once whole, but never one others may write: under
        # umask 000 anyone could have added a module to the code its user then runs
        os.chmod(staging, FOLDER_MODE & ~_umask())
        _refuse_existing(target, pathspec, "--dir")  # made while we unpacked
        os.rename(staging, target)  # a rename replaces no link's target
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def diff(pathspec: str, folder: str = ".") -> FolderDiff:
    """How ``folder`` (the working directory) differs from run ``pathspec``'s code: ``a/`` is
    the folder's file, ``b/`` the run's."""
    code = package_of(pathspec)
    with _unpacked(code) as run_folder:
        found = diff_folders(folder, run_folder)
    found.flow_file = code.script_name
    return found


def diff_runs(pathspec: str, other: str) -> FolderDiff:
    """How run ``other``'s code (``a/``) differs from run ``pathspec``'s (``b/``), for the
    files of ``pathspec``'s package: ``metaflow code diff-runs`` compares in this order."""
    with unpacked(pathspec) as code, unpacked(other) as other_code:
        return diff_folders(other_code, code)


@dataclass(frozen=True)
class Patch:
    """What :func:`write_patch` wrote: the file, and what the comparison found."""

    path: str
    found: FolderDiff

    @property
    def left_out(self) -> list[str]:
        """Binary files that differ: a patch without their bytes cannot carry them."""
        return [d.path for d in self.found.changed if d.binary]


def write_patch(pathspec: str, path: str | None = None, *, overwrite: bool = False,
                folder: str = ".") -> Patch:
    """Write the patch that turns ``folder``'s files into run ``pathspec``'s (``git apply``
    or ``patch -p1`` in ``folder``). An existing ``path`` is replaced only with ``overwrite``;
    a link another user made there is never written through."""
    target = path or default_patch_file(pathspec)
    if not overwrite:
        _refuse_existing(target, pathspec, "--file", "or add --overwrite")
    found = diff(pathspec, folder)
    text = b"".join(d.text for d in found.changed if not d.binary)
    replace_file(target, text, private=False)
    return Patch(target, found)


def apply_command(patch_file: str) -> str:
    """The command that applies ``patch_file`` here: ``git apply`` (with ``--directory`` when
    this folder is below the top of a git work tree, whose root git apply's paths are relative
    to), or ``patch -p1`` without git."""
    git = shutil.which("git")
    quoted = shlex.quote(patch_file)  # a path with a space or a `;` is one word when pasted
    if git is None:
        return f"patch -p1 < {quoted}"
    try:
        prefix = subprocess.run([git, "rev-parse", "--show-prefix"], capture_output=True,
                                text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        prefix = ""
    directory = f" {shlex.quote('--directory=' + prefix.rstrip('/'))}" if prefix else ""
    return f"git apply --verbose{directory} {quoted}"


def _refuse_existing(path: str, pathspec: str, option: str, more: str = "") -> None:
    if os.path.lexists(path):
        what = "a link" if os.path.islink(path) else "a folder" if os.path.isdir(path) else "a file"
        raise CodeDestinationError(
            f"{path} already exists ({what}); the code of {pathspec} was not written there",
            fix=f"give another path with {option}{f' {more}' if more else ''}, or remove it")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

"""``run.code``: the code package a run's tasks were shipped with, read back from the datastore.

Runs on a scale-out executor (``--executor dask``) pack the flow file's folder into a tarball
stored as a content-addressed blob, and record its key with the run. This object lets a user
see exactly which code produced a run: the flow file's source, the whole tarball, or a folder
to browse. Local runs ran the files in place and have no package.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tempfile
from typing import Any

from headwater.client import _context
from headwater.store.datastore import blob_path


class CodePackage:
    """The code of one run: ``flowspec`` (the flow file's text), ``tarball``, ``extract()``."""

    def __init__(self, run_pathspec: str, info: dict[str, Any]) -> None:
        self._run = run_pathspec
        self._info = dict(info)
        self._data: bytes | None = None

    @classmethod
    def from_json(cls, run_pathspec: str, text: str | None) -> CodePackage | None:
        return cls(run_pathspec, json.loads(text)) if text else None

    @property
    def key(self) -> str:
        """The content key of the package blob: the same code always has the same key."""
        return self._info["key"]

    @property
    def path(self) -> str:
        """Where the package blob is, under the datastore root."""
        root = _context.current().store().root.rstrip("/")
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
            store = _context.current().store()
            packed = store.load_bytes(self.key, what=f"the code package of {self._run}")
            self._data = gzip.decompress(packed)
        return self._data

    @property
    def tarball(self) -> tarfile.TarFile:
        """The package as an open (in-memory) tar archive."""
        return tarfile.open(fileobj=io.BytesIO(self._bytes()), mode="r:")

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
            tar.extractall(target, filter="data")
        return target

    def __repr__(self) -> str:
        return f"CodePackage('{self._run}', {self.script_name}, key={self.key[:12]}...)"

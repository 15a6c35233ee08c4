"""``metaflow.includefile``: ``IncludeFile`` and the ``IncludedFile`` type checkers test for.

headwater stores an included file's content itself as the artifact (text or bytes), so no
artifact is ever an ``IncludedFile``; the class exists so ``isinstance`` checks written for
Metaflow run (and are false).
"""

from __future__ import annotations

import json
from typing import Any

from headwater.flow.includefile import IncludeFile


class IncludedFile:
    """A reference to an included file's stored content (kept for Metaflow's checkers)."""

    def __init__(self, descriptor: dict[str, Any]) -> None:
        self._descriptor = dict(descriptor)

    @property
    def descriptor(self) -> str:
        return json.dumps(self._descriptor)


__all__ = ["IncludeFile", "IncludedFile"]

"""``IncludeFile``: a parameter whose value is the content of a local file, read at launch.

The file is read once, when the run starts, and its content is stored with the run like any other
artifact, so the run stays reproducible after the local file changes or disappears.
"""

from __future__ import annotations

import os
from typing import Any

from headwater.exceptions import ParameterError
from headwater.flow.parameters import Parameter


class IncludeFile(Parameter):
    """``IncludeFile('data', default='movies.csv', is_text=True, encoding='utf-8', help=...)``."""

    is_include_file = True

    def __init__(
        self,
        name: str,
        default: Any = None,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,  # noqa: A002
        required: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required, **kwargs)
        self.is_text = is_text
        self.encoding = encoding

    def convert(self, raw: Any) -> Any:
        """Read the file the value names; the artifact is its content."""
        if not isinstance(raw, str):
            return raw
        path = os.path.expanduser(raw)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise ParameterError(
                f"IncludeFile '{self.name}': file {raw!r} does not exist "
                f"(looked in {os.path.abspath(path)})",
                fix=f"pass an existing file with --{self.name} PATH",
            ) from None
        except OSError as err:
            raise ParameterError(f"IncludeFile '{self.name}': cannot read {raw!r}: {err}") from None
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as err:
            raise ParameterError(
                f"IncludeFile '{self.name}': {raw!r} is not valid {self.encoding} text ({err.reason})",
                fix="pass is_text=False to IncludeFile to get the raw bytes",
            ) from None

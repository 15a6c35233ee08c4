"""``IncludeFile``: a parameter whose value is the content of a local file, read at launch.

The file is read once, when the run starts, and its content is stored with the run like any other
artifact, so the run stays reproducible after the local file changes or disappears.

The content is held in memory and stored whole, so a file over ``HEADWATER_INCLUDE_FILE_MAX``
(bytes, or with a K/M/G suffix; 1G by default) is refused before it is read, and an endless
source (``/dev/zero``, a pipe) is refused as soon as that much has been read. A named pipe
nothing writes to would block the launch for ever: it is opened without waiting, and refused
when no writer has come within ``HEADWATER_INCLUDE_FILE_WAIT`` seconds (60 by default); a folder
is refused by name.
"""

from __future__ import annotations

import codecs
import os
from typing import Any

from headwater.exceptions import FlowDefinitionError, ParameterError
from headwater.flow.parameters import Parameter
from headwater.local_read import (
    DEFAULT_PIPE_WAIT_S,
    PIPE_WAIT_ENV,
    NotReadable,
    flow_folder,
    locate_default,
    open_local,
    pipe_wait_s,
    read_at_most,
)

MAX_SIZE_ENV = "HEADWATER_INCLUDE_FILE_MAX"
WAIT_ENV = PIPE_WAIT_ENV
DEFAULT_WAIT_S = DEFAULT_PIPE_WAIT_S
DEFAULT_MAX_SIZE = 1 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


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
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise FlowDefinitionError(
                f"IncludeFile '{name}': there is no text encoding named {encoding!r}",
                fix="use a codec Python knows, e.g. encoding='utf-8' or 'latin-1'") from None
        self.encoding = encoding
        self.last_read: tuple[str, int] | None = None  # (the path as given, bytes read)

    def convert_default(self, raw: Any, flow_cls: type) -> Any:
        """Read the default file: a relative one is looked for in the working directory, then
        beside the flow file (as a ``Config``'s default is), so ``python proj/flow.py run``
        finds ``proj/data.csv``. A path given on the command line is taken as it is."""
        if not isinstance(raw, str):
            return raw
        found = locate_default(flow_cls, os.path.expanduser(raw))
        folder = flow_folder(flow_cls)
        if os.path.exists(found) or os.path.isabs(found) or folder is None:
            return self.convert(found, shown=raw)
        beside = os.path.join(folder, raw)
        raise ParameterError(
            f"IncludeFile '{self.name}': its default file {raw!r} does not exist (looked in "
            f"{os.path.abspath(found)} and beside the flow file, {beside})",
            fix=f"create it, or pass an existing file with --{self.name} PATH")

    def convert(self, raw: Any, shown: str | None = None) -> Any:
        """Read the file the value names; the artifact is its content. ``shown`` is how the
        errors name it (the default as written, when it was found beside the flow file)."""
        if not isinstance(raw, str):
            return raw
        path = os.path.expanduser(raw)
        raw = shown if shown is not None else raw
        limit = max_include_size(self.name)
        try:
            with open_local(path, include_wait_s(self.name)) as handle:
                data = read_at_most(handle, limit)
        except NotReadable as err:
            raise self._not_readable(raw, limit, err) from None
        except FileNotFoundError:
            near = _close_file(path)
            raise ParameterError(
                f"IncludeFile '{self.name}': file {raw!r} does not exist "
                f"(looked in {os.path.abspath(path)})"
                + (f"; did you mean {near!r}?" if near else ""),
                fix=f"pass an existing file with --{self.name} PATH",
            ) from None
        except OSError as err:
            raise ParameterError(f"IncludeFile '{self.name}': cannot read {raw!r}: {err}") from None
        self.last_read = (raw, len(data))  # for the launcher's "Including file" line
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as err:
            raise ParameterError(
                f"IncludeFile '{self.name}': {raw!r} is not valid {self.encoding} text ({err.reason})",
                fix="pass is_text=False to IncludeFile to get the raw bytes",
            ) from None

    def _not_readable(self, raw: str, limit: int, err: NotReadable) -> ParameterError:
        if err.why == "folder":
            return ParameterError(f"IncludeFile '{self.name}': {raw!r} is a folder, not a file",
                                  fix=f"pass a file with --{self.name} PATH")
        if err.why == "no writer":
            return ParameterError(
                f"IncludeFile '{self.name}': nothing wrote to the pipe {raw!r} within "
                f"{err.detail}",
                fix=f"start the program writing to it first, pass a file with "
                f"--{self.name}, or wait longer with {WAIT_ENV}=SECONDS")
        return self._too_large(raw, limit, err.detail)

    def _too_large(self, raw: str, limit: int, detail: str) -> ParameterError:
        return ParameterError(
            f"IncludeFile '{self.name}': {raw!r} is larger than the limit of {limit} bytes "
            f"({detail})",
            fix=f"pass a smaller file with --{self.name}, or raise the limit with "
            f"{MAX_SIZE_ENV}=2G (bytes, or with a K/M/G suffix)",
        )


def size_text(size: int) -> str:
    """``37KB``: whole units of 1024, as Metaflow's "Including file" line counts them."""
    units = ("B", "KB", "MB", "GB", "TB")
    step = 0
    while step < len(units) - 1 and size >= 1024:
        size //= 1024
        step += 1
    return f"{size}{units[step]}" + (" (this may take a while)" if step >= 3 else "")


def _close_file(path: str) -> str | None:
    """``data.csv`` beside a mistyped ``dta.csv``: a file of that folder (at most 500 looked
    at) spelt close to the name typed, written as it was typed (with the folder given)."""
    from headwater.spelling import closest

    folder, name = os.path.split(path)
    try:
        with os.scandir(folder or ".") as entries:
            names = [entry.name for _, entry in zip(range(500), entries, strict=False)
                     if entry.is_file()]
    except OSError:
        return None
    close = closest(name, names)
    return os.path.join(folder, close) if close else None


def include_wait_s(name: str = "") -> float:
    """How long an IncludeFile waits for a pipe's writer: ``HEADWATER_INCLUDE_FILE_WAIT``."""
    seconds = pipe_wait_s()
    if seconds is None:
        raise ParameterError(
            f"IncludeFile '{name}': {WAIT_ENV}={os.environ[WAIT_ENV].strip()!r} is not a number "
            "of seconds",
            fix=f"set {WAIT_ENV} to a number of seconds, e.g. 120")
    return seconds


def max_include_size(name: str = "") -> int:
    """The largest file an IncludeFile reads: ``HEADWATER_INCLUDE_FILE_MAX``, else 1 GiB."""
    given = os.environ.get(MAX_SIZE_ENV, "").strip().upper()
    if not given:
        return DEFAULT_MAX_SIZE
    unit = given[-1] if given[-1] in _UNITS else ""
    number = given[: len(given) - len(unit)].strip()
    if not number.isdigit() or int(number) <= 0:
        raise ParameterError(
            f"IncludeFile '{name}': {MAX_SIZE_ENV}={os.environ[MAX_SIZE_ENV]!r} is not a size",
            fix=f"set {MAX_SIZE_ENV} to a number of bytes, optionally with K, M or G, e.g. 2G",
        )
    return int(number) * _UNITS[unit]

"""Where the UI's token comes from, kept out of other users' sight.

Every local user can read a process's command line (``ps``), so ``--token T`` shows the token to
all of them, and with it the runs the token guards. The ways that do not:

- ``HEADWATER_UI_TOKEN`` in the environment (another user cannot read a process's environment);
- ``--token-file PATH``: the first line of a regular file only this user may read or write
  (``chmod 600``), refused otherwise, naming the file and the fix;
- ``--new-token``: a token made here and printed once, in the link the server prints.

``--token`` still works (scripts use it), with a warning naming these.
"""

from __future__ import annotations

import os
import stat

from headwater.exceptions import HeadwaterException
from headwater.ui.security import TOKEN_ENV, new_token

# A token is a line of text; a larger file is no token file (and a device is never read whole).
MAX_TOKEN_FILE = 4096
COMMAND_LINE_WARNING = (
    "warning: a token given with --token is shown to every user of this machine (`ps` lists "
    "each process's command line), and with it the runs it guards; use "
    f"{TOKEN_ENV}=..., --token-file PATH (a file only you can read) or --new-token instead")


class UITokenError(HeadwaterException):
    """The UI's token cannot be taken from where it was asked to come from."""


def chosen_token(token: str | None, token_file: str | None, make_new: bool) -> str | None:
    """The token from at most one of ``--token``, ``--token-file`` and ``--new-token``, else
    None (the server then reads HEADWATER_UI_TOKEN)."""
    given = [name for name, value in (("--token", token is not None),
                                      ("--token-file", token_file is not None),
                                      ("--new-token", make_new)) if value]
    if len(given) > 1:
        raise UITokenError(f"{' and '.join(given)} both give the UI's token",
                           fix="give one of them")
    if token_file is not None:
        return read_token_file(token_file)
    if make_new:
        return new_token()
    return token


def read_token_file(path: str) -> str:
    """The first line of ``path``, a regular file of this user's that no one else may read or
    change; anything else is refused naming the file and the fix."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        why = "is a symbolic link" if os.path.islink(path) else f"cannot be read ({exc.strerror})"
        raise UITokenError(f"the UI token file {path!r} {why}",
                           fix="name a regular file holding the token (chmod 600)") from None
    try:
        info = os.fstat(fd)
        _check_private(path, info)
        data = os.read(fd, MAX_TOKEN_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE:
        raise UITokenError(f"the UI token file {path!r} holds more than {MAX_TOKEN_FILE} bytes",
                           fix="write only the token in it, on one line")
    lines = data.decode("utf-8", errors="replace").splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        raise UITokenError(f"the UI token file {path!r} holds no token on its first line",
                           fix="write the token in it, e.g. `python -c \"import secrets; "
                           f"print(secrets.token_urlsafe())\" > {path}`")
    return token


def _check_private(path: str, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UITokenError(f"the UI token file {path!r} is not a regular file",
                           fix="name a regular file holding the token (chmod 600)")
    if info.st_uid != os.geteuid():
        raise UITokenError(f"the UI token file {path!r} belongs to another user (uid "
                           f"{info.st_uid}), who can change the token",
                           fix="use a token file of your own (chmod 600)")
    if info.st_mode & 0o077:
        raise UITokenError(f"the UI token file {path!r} may be read or changed by other users "
                           f"(mode {stat.S_IMODE(info.st_mode):04o})", fix=f"chmod 600 {path}")

"""Numeric settings read from the environment (``HEADWATER_*`` timeouts, intervals, counts), read
one way.

Each such variable used to be parsed where it was used, each with its own rule: ``nan``, ``inf``
and negative numbers were taken without a word (a reconnect window of ``-5`` silently became 0,
``nan`` fell back to the default, ``abc`` was a traceback for one and ignored by the next). Here
a variable that is set but is no finite number in its range is one :class:`SettingError` naming
the variable, the value given, the range and the fix; unset (or empty), it is the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

ErrorClass = Any
"""A HeadwaterException subclass (taking ``fix=``); headwater.exceptions is imported only when
an error is raised, since every layer may use this module."""

MAX_SECONDS = 1e6
"""The most any seconds setting takes (11 days): past it a wait is surely a typo, and some
callees (SQLite's busy timeout, ``select``) overflow on huge numbers."""


def env_seconds(name: str, default: float, *, zero_ok: bool = False,
                error: ErrorClass = None,
                environ: Mapping[str, str] | None = None) -> float:
    """``$name`` as a number of seconds, ``default`` when unset.

    Positive and finite up to :data:`MAX_SECONDS`; 0 too with ``zero_ok`` (where it means
    "do not wait"). Anything else raises ``error`` (a :class:`SettingError` unless the caller
    has a more telling class) naming the variable, the value and the fix.
    """
    raw = _raw(name, environ)
    if raw is None:
        return default
    value = seconds_in_range(raw, zero_ok=zero_ok)
    if value is None:
        floor = "0" if zero_ok else "more than 0"
        raise _error(error)(
            f"{name}={raw[:40]!r} is not a number of seconds from {floor} to {MAX_SECONDS:.0f}",
            fix=f"set {name} to a number of seconds, e.g. {default:g}, or unset it "
            f"({default:g} s by default)")
    return value


def env_count(name: str, default: int, *, error: ErrorClass = None,
              environ: Mapping[str, str] | None = None) -> int:
    """``$name`` as a whole number from 0 up, ``default`` when unset; anything else raises
    ``error`` naming the variable, the value and the fix."""
    raw = _raw(name, environ)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise _error(error)(f"{name}={raw[:40]!r} is not a whole number from 0 up",
                    fix=f"set {name} to a whole number, e.g. {default}, or unset it "
                    f"({default} by default)")
    return int(raw)


def _error(given: ErrorClass) -> ErrorClass:
    if given is not None:
        return given
    from headwater.exceptions import SettingError  # lazily: every layer may use this module

    return SettingError


def seconds_in_range(raw: str, *, zero_ok: bool = False) -> float | None:
    """``raw`` as seconds by :func:`env_seconds`' rule, None when it breaks it (for a caller
    that names the setting in an error of its own)."""
    value = _number(raw.strip())
    if value is None or not ((value >= 0 if zero_ok else value > 0) and value <= MAX_SECONDS):
        return None
    return value


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def _number(raw: str) -> float | None:
    """``raw`` as a finite float, else None (``nan``, ``inf``, ``1e999``, ``abc``, ``1_0``)."""
    if "_" in raw:  # float() reads 1_000; a setting is written plainly
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None

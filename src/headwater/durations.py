"""Durations a user writes (``90``, ``90s``, ``10m``, ``1h``, ``7d``), read one way everywhere:
``gc --grace``, ``@cache(max_age=...)``, ``HEADWATER_CACHE_MAX_AGE``. Each caller turns the
``ValueError`` into its own error, naming where the text came from."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
EXAMPLES = "0, 90s, 10m, 1h or 2d"


def parse_duration(value: object) -> float:
    """Seconds from ``"90"``, ``"30s"``, ``"10m"``, ``"1h"``, ``"2d"`` or a number of seconds;
    ``ValueError`` for anything else (a negative, infinite or non-number value included)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if not 0 <= value < math.inf:
            raise ValueError(f"{value!r} is not a duration")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def shown(seconds: float) -> str:
    """A duration as a person reads it, in its largest whole unit: ``7d``, ``1.5d``, ``2.0h``
    (a few seconds past two hours), ``45s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{int(value)}{unit}" if value.is_integer() else f"{value:.1f}{unit}"
    return f"{seconds:g}s"

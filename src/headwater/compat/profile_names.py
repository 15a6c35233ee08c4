"""``from metaflow import profile``: time a block of a step and say how long it took.

Metaflow's datastore test flows wrap their loads in ``with profile('loading'):``. As there, the
block is announced and its time printed in whole milliseconds (``PROFILE: loading starting``,
``PROFILE: loading completed in 12ms``), or, given a dict, added to the dict under the label
instead of printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager


@contextmanager
def profile(label: str, stats_dict: MutableMapping[str, int] | None = None) -> Iterator[None]:
    """Time the ``with`` block named ``label``."""
    if stats_dict is None:
        print(f"PROFILE: {label} starting")
    began = time.time()
    yield
    elapsed = int((time.time() - began) * 1000)
    if stats_dict is None:
        print(f"PROFILE: {label} completed in {elapsed}ms")
    else:
        stats_dict[label] = stats_dict.get(label, 0) + elapsed


__all__ = ["profile"]

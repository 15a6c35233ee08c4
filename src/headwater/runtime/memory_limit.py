"""What a task that ran out of memory is told: Python's bare ``MemoryError`` names neither what
ran out nor what to do, and under a limit on the address space (``ulimit -v``, a container's
``RLIMIT_AS``) the limit is the likeliest cause, so the message names it."""

from __future__ import annotations

from headwater.limits import soft_limit


def address_space_limit() -> int | None:
    """This process's limit on its address space in bytes (``ulimit -v`` times 1024), or None
    when there is none."""
    return soft_limit("AS")


def out_of_memory_message() -> str:
    """The message of a step's ``MemoryError``: what ran out, and the fix."""
    limit = address_space_limit()
    where = (f"its process may use at most {limit / 2**20:,.0f} MiB of address space "
             f"(`ulimit -v` {limit // 1024})" if limit is not None
             else "the machine had no more memory to give it")
    return (f"the step ran out of memory: {where}; raise the limit, or give the step less "
            "to hold at once (or run it where there is more memory, `@resources(memory=...)` "
            "with a cluster executor), then resume the run")

"""The cyclic garbage collector, paused while a flow script loads what its run needs.

Loading headwater's modules makes tens of thousands of objects (functions, classes, their dicts)
that live as long as the process. The collector, counting allocations, walks them again and
again while they are made: ~20 young and 3 middle-aged collections before a local run's first
task, a few milliseconds of the serial start, finding nothing. So ``python flow.py run`` (a
process headwater owns from start to end, see :mod:`headwater.cli.process_exit`) freezes what
is loaded (:func:`gc.freeze`: never scanned again), pauses the collector while the run's
machinery is imported and set up, then freezes that too and lets the collector run as before,
before the first task's fork server is forked. Only cycles made during that window and already
garbage are kept: a few objects, in a process that exits at the run's end.
"""

from __future__ import annotations

import gc

_paused = [False]


def pause_while_loading() -> None:
    """Freeze what is loaded so far and pause the collector until :func:`loaded`; only for a
    process headwater owns (a flow script's own ``run``/``resume``), never inside another
    program, whose objects must stay collectable."""
    if not gc.isenabled():  # the program turned it off itself: leave it so
        return
    gc.freeze()
    gc.disable()
    _paused[0] = True


def loaded() -> None:
    """What the run needs is loaded: freeze it and collect as before (a no-op unless paused)."""
    if _paused[0]:
        _paused[0] = False
        gc.freeze()
        gc.enable()

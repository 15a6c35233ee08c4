"""Python warnings in the tasks of a flow written for Metaflow: hidden, as Metaflow hides them.

Metaflow's command line starts with ``warnings.filterwarnings("ignore")`` in every process it
runs a step in, so a step's ``FutureWarning``s and library warnings (scikit-learn's
``FitFailedWarning``, pandas' deprecations) never reach its log; a flow moved to headwater
unchanged would print them all (mmuratarat/metaflow_tutorial: 149 lines of one grid search).
A flow that imports ``headwater`` keeps Python's own filters, and so does any flow run with
``PYTHONWARNINGS`` set: whoever sets it asked to see them. The filters are restored when the
task ends, so a task run inside a caller's process (``headwater.testing``) changes nothing there.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

from headwater.version import serving_metaflow


@contextlib.contextmanager
def metaflow_warning_filter() -> Iterator[None]:
    """Inside: every warning ignored when the flow was written for Metaflow (and
    ``PYTHONWARNINGS`` is unset); Python's filters unchanged otherwise."""
    if not serving_metaflow() or os.environ.get("PYTHONWARNINGS"):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield

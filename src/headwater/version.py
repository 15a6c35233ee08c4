"""The version of headwater, in a module of its own: reading it imports nothing else."""

import sys

__version__ = "0.1.0"

# The Metaflow release whose public API headwater follows, marked as served by headwater: what
# ``metaflow.__version__`` reports under headwater, and the value of each run's
# ``metaflow_version:`` system tag (see docs/decisions.md).
METAFLOW_API_VERSION = "2.19.0+headwater"


def serving_metaflow() -> bool:
    """True when this process runs code written for Metaflow: the ``metaflow`` it imported is
    headwater's (alias or shim), whose version carries the mark above. A few of Metaflow's
    rules apply only then (see docs/decisions.md)."""
    served = getattr(sys.modules.get("metaflow"), "__version__", "")
    return isinstance(served, str) and served.endswith("+headwater")

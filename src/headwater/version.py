"""The version of headwater, in a module of its own: reading it imports nothing else."""

__version__ = "0.1.0"

# The Metaflow release whose public API headwater follows, marked as served by headwater: what
# ``metaflow.__version__`` reports under headwater, and the value of each run's
# ``metaflow_version:`` system tag (see docs/decisions.md).
METAFLOW_API_VERSION = "2.19.0+headwater"

"""Per-step Python environments: ``@pypi``, ``@conda`` and their flow-wide ``_base`` forms.

A declaration becomes a lock (exact versions and hashes) once, before any task starts; the lock
becomes an environment built once and cached by the lock's hash; each environment's tasks are
forked from a warm server started with that environment's interpreter. See docs/environments.md.
"""

from headwater.environments.decorators import conda, conda_base, pypi, pypi_base

__all__ = ["conda", "conda_base", "pypi", "pypi_base"]

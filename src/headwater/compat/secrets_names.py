"""``metaflow.plugins.secrets``: the base class of a secrets provider, and ``get_secret``.

An organisation's ``metaflow_extensions`` package declares its providers in
``SECRETS_PROVIDERS_DESC``; each subclasses :class:`SecretsProvider` and is then named by
``@secrets(sources=["TYPE.ID"])`` like a built-in one (see ``compat/extension_points.py``).
"""

from __future__ import annotations

import abc
from typing import Any

from headwater.decorators.secrets import get_secret

__all__ = ["SecretsProvider", "get_secret"]


class SecretsProvider(abc.ABC):
    """A source of secrets: ``TYPE`` is the name sources give it, and each secret it fetches is
    a dict of environment variables (names and values are strings)."""

    TYPE: str | None = None

    @abc.abstractmethod
    def get_secret_as_dict(self, secret_id: str | None, options: dict[str, Any] | None = None,
                           role: Any = None) -> dict[str, str]:
        """The variables the secret ``secret_id`` holds."""

"""``metaflow.plugins.cards.exception``: the card errors a caller catches."""

from __future__ import annotations

from headwater.exceptions import NotFoundError


class CardNotPresentException(NotFoundError):
    """No card of the asked type/id exists for the task."""

    headline = "Card not found"


__all__ = ["CardNotPresentException"]

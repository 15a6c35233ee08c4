"""``metaflow.plugins.cards.exception``: the card exceptions flows and tests catch."""

from __future__ import annotations

from headwater.exceptions import CardNotPresentException, FlowDefinitionError

CardClassFoundException = FlowDefinitionError  # an unknown card type

__all__ = ["CardClassFoundException", "CardNotPresentException"]

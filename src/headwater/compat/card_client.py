"""``metaflow.plugins.cards.card_client``: where code written for Metaflow imports ``Card``
(the class of what ``get_cards`` returns) to check what it got."""

from __future__ import annotations

from headwater.client.cards import Card, CardContainer, get_cards

__all__ = ["Card", "CardContainer", "get_cards"]

"""Cards: HTML reports of tasks. Components to put on them, card types, and ``get_cards``.

::

    from headwater import card, current
    from headwater.cards import Markdown, Table, VegaChart, get_cards

Rendering code is imported only by steps that have ``@card``; ``get_cards`` (the client side)
only when first used.
"""

from __future__ import annotations

from typing import Any

from headwater.cards.card_types import MetaflowCard, card_class, known_card_types
from headwater.cards.components import (
    Artifact,
    Error,
    Image,
    JSONViewer,
    Markdown,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
)
from headwater.exceptions import CardNotPresentException

_CLIENT_NAMES = ("get_cards", "Card", "CardContainer")

__all__ = [
    "Artifact", "Card", "CardContainer", "CardNotPresentException", "Error", "Image",
    "JSONViewer", "Markdown", "MetaflowCard", "MetaflowCardComponent", "ProgressBar", "PythonCode",
    "Table", "ValueBox", "VegaChart", "YAMLViewer", "card_class", "get_cards", "known_card_types",
]


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from headwater.client import cards as client_cards

        return getattr(client_cards, name)
    raise AttributeError(f"module 'headwater.cards' has no attribute {name!r}")

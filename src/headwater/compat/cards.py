"""``metaflow.cards``: headwater's card components, card base class and ``get_cards``.

``get_cards`` (the client side) is imported on first use, so aliasing ``metaflow`` for a run
imports no client code.
"""

from __future__ import annotations

from typing import Any

from headwater.cards import (  # noqa: F401
    Artifact,
    CardNotPresentException,
    Error,
    Image,
    JSONViewer,
    Markdown,
    MetaflowCard,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
)
from headwater.cards import __all__ as _ALL

__all__ = list(_ALL)


def __getattr__(name: str) -> Any:
    import headwater.cards

    return getattr(headwater.cards, name)

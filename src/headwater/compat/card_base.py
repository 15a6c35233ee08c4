"""``metaflow.plugins.cards.card_modules.card``: the bases card-type packages subclass.

Card types published as ``metaflow_extensions`` packages (``metaflow-card-html``, Outerbounds'
``obproject`` highlight card, ...) import ``MetaflowCard`` from this path rather than from
``metaflow.cards``; it is headwater's one class either way.
"""

from __future__ import annotations

from headwater.cards.card_types import MetaflowCard
from headwater.cards.components import MetaflowCardComponent

__all__ = ["MetaflowCard", "MetaflowCardComponent"]

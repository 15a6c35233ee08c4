"""``metaflow.cards`` components, accepted so card-making steps run.

They hold what they were given; rendering cards is future work (the UI issue). Each keeps its
arguments so a later renderer, or a test, can read them back.
"""

from __future__ import annotations

from typing import Any


class MetaflowCardComponent:
    """Base of card components: remembers its arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args or self.args, {**self.kwargs, **kwargs}

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.args!r}"


class Markdown(MetaflowCardComponent):
    pass


class Table(MetaflowCardComponent):
    pass


class Image(MetaflowCardComponent):
    @classmethod
    def from_matplotlib(cls, figure: Any, **kwargs: Any) -> Image:
        return cls(figure, **kwargs)

    @classmethod
    def from_pil_image(cls, image: Any, **kwargs: Any) -> Image:
        return cls(image, **kwargs)


class Artifact(MetaflowCardComponent):
    pass


class VegaChart(MetaflowCardComponent):
    pass


class ProgressBar(MetaflowCardComponent):
    pass


class Error(MetaflowCardComponent):
    pass


__all__ = [
    "Artifact", "Error", "Image", "Markdown", "MetaflowCardComponent", "ProgressBar", "Table",
    "VegaChart",
]

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


def get_cards(task: Any, id: str | None = None, type: str | None = None,  # noqa: A002
              follow_resumed: bool = True) -> Any:
    """The cards of a task. headwater does not render cards yet, so no task has one: this raises
    :class:`CardNotPresentException` naming the task, as Metaflow does for a task without cards."""
    from headwater.compat.card_errors import CardNotPresentException

    pathspec = task if isinstance(task, str) else getattr(task, "pathspec", repr(task))
    wanted = " ".join(f"{k}={v!r}" for k, v in (("type", type), ("id", id)) if v)
    raise CardNotPresentException(
        f"task {pathspec} has no card{' with ' + wanted if wanted else ''}: "
        "headwater collects card components but does not render cards yet"
    )


__all__ = [
    "Artifact", "Error", "Image", "Markdown", "MetaflowCardComponent", "ProgressBar", "Table",
    "VegaChart", "get_cards",
]

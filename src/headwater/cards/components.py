"""Card components: what a step puts on its card with ``current.card.append(...)``.

Each component keeps what it was given and turns it into an HTML fragment only when the card is
rendered, so appending is cheap and ``update()`` before a refresh is just an assignment. Every
piece of user content goes through :func:`html.escape` (or a renderer that escapes), so a string
artifact holding ``<script>`` shows as text and never runs.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
from typing import Any, ClassVar

from headwater.cards import preview

MAX_TABLE_ROWS = 1000
"""Rows a Table shows; the rest are counted in a note (a card stays readable and small)."""


class MetaflowCardComponent:
    """Base of card components. ``render()`` returns an HTML fragment; ``id`` names it for
    ``current.card.components[id]`` lookups."""

    needs: ClassVar[frozenset[str]] = frozenset()  # scripts a card must inline ("vega")
    # Also a class default: subclasses that never call ``super().__init__()`` (Metaflow's base
    # asks nothing of them) still have one for ``current.card.append(c, id=...)`` to set.
    component_id: str | None = None

    def __init__(self) -> None:
        self.component_id: str | None = None

    @property
    def id(self) -> str | None:
        return self.component_id

    @id.setter
    def id(self, value: str | None) -> None:
        self.component_id = value

    def render(self) -> str:
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change what the component shows; the next ``current.card.refresh()`` sends it."""
        raise TypeError(f"{type(self).__name__} cannot be updated; replace it instead")

    def all_needs(self) -> frozenset[str]:
        return self.needs


def _html_of(item: Any) -> str:
    """A component's fragment, or a safe text preview of any other value."""
    if isinstance(item, MetaflowCardComponent):
        return item.render()
    return f'<span class="hw-value">{html.escape(preview.short_repr(item))}</span>'


class Markdown(MetaflowCardComponent):
    """Markdown text (CommonMark with tables); raw HTML in it is shown as text."""

    def __init__(self, text: str | None = None) -> None:
        super().__init__()
        self.text = "" if text is None else str(text)

    def update(self, text: str | None = None) -> None:
        self.text = "" if text is None else str(text)

    def render(self) -> str:
        return f'<div class="hw-markdown">{render_markdown(self.text)}</div>'


MARKDOWN_AS_TEXT = ("Markdown shown as text: pip install 'headwater[cards]' (markdown-it-py) "
                    "renders it")


def render_markdown(text: str) -> str:
    """Markdown to HTML with markdown-it-py (the ``cards`` extra); without it, the text escaped
    and a line under it saying what renders it (a ``# Title`` shown as is looks like a bug of
    the card to whoever installed headwater alone and wrote Markdown as in Metaflow)."""
    parser = _markdown_parser()
    if parser is None:
        return (f"<pre>{html.escape(text)}</pre>"
                f'<p class="hw-note">{html.escape(MARKDOWN_AS_TEXT)}</p>')
    return parser.render(text)


@functools.cache
def _markdown_parser() -> Any:
    """One CommonMark parser (with tables) per process; raw HTML in the text stays text."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    return MarkdownIt("commonmark", {"html": False}).enable("table")


class Table(MetaflowCardComponent):
    """Rows of cells; a cell may be any value or a component (an Image, a Markdown, ...)."""

    def __init__(self, data: list[list[Any]] | None = None, headers: list[str] | None = None,
                 disable_updates: bool = False) -> None:
        super().__init__()
        self._data = [list(row) for row in (data or [])]
        self._headers = [str(h) for h in (headers or [])]
        self._disable_updates = disable_updates
        self._total: int | None = None  # rows of the source, when only the first were kept

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True) -> Table:
        """A pandas DataFrame's first rows (all of them with ``truncate=False``)."""
        rows = dataframe.head(MAX_TABLE_ROWS) if truncate else dataframe
        table = cls([list(r) for r in rows.itertuples(index=False)],
                    [str(c) for c in dataframe.columns])
        table._total = len(dataframe)
        return table

    def update(self, data: list[list[Any]] | None = None) -> None:
        if self._disable_updates:
            raise TypeError("this Table was made with disable_updates=True")
        self._data = [list(row) for row in (data or [])]
        self._total = None

    def all_needs(self) -> frozenset[str]:
        found: set[str] = set()
        for row in self._data[:MAX_TABLE_ROWS]:
            for cell in row:
                if isinstance(cell, MetaflowCardComponent):
                    found |= cell.all_needs()
        return frozenset(found)

    def render(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_html_of(cell)}</td>" for cell in row) + "</tr>"
            for row in self._data[:MAX_TABLE_ROWS]
        )
        total = self._total if self._total is not None else len(self._data)
        note = (f'<p class="hw-note">showing {min(total, MAX_TABLE_ROWS):,} of {total:,} rows</p>'
                if total > MAX_TABLE_ROWS or len(self._data) < total else "")
        thead = f"<thead><tr>{head}</tr></thead>" if head else ""
        return f'<table class="hw-table">{thead}<tbody>{body}</tbody></table>{note}'


class Image(MetaflowCardComponent):
    """A picture: PNG/JPEG/GIF/SVG/WebP bytes, a PIL image or a matplotlib figure."""

    def __init__(self, src: bytes | None = None, label: str | None = None,
                 disable_updates: bool = False) -> None:
        super().__init__()
        self.label = label
        self._disable_updates = disable_updates
        self._src = _image_data_url(src) if src is not None else None

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None,
                       disable_updates: bool = False) -> Image:
        return cls(_pil_png(pilimage), label, disable_updates)

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None,
                        disable_updates: bool = False) -> Image:
        return cls(_figure_png(plot), label, disable_updates)

    def update(self, image: Any, label: str | None = None) -> None:
        if self._disable_updates:
            raise TypeError("this Image was made with disable_updates=True")
        if hasattr(image, "savefig") or hasattr(image, "figure"):
            data = _figure_png(image)
        elif hasattr(image, "save") and hasattr(image, "mode"):
            data = _pil_png(image)
        else:
            data = image
        self._src = _image_data_url(data)
        if label is not None:
            self.label = label

    def render(self) -> str:
        caption = (f"<figcaption>{html.escape(self.label)}</figcaption>"
                   if self.label else "")
        if self._src is None:
            return f'<figure class="hw-image"><p class="hw-note">no image</p>{caption}</figure>'
        alt = html.escape(self.label or "image", quote=True)
        return (f'<figure class="hw-image"><img src="{self._src}" alt="{alt}">'
                f"{caption}</figure>")


_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _image_data_url(data: Any) -> str:
    """A ``data:`` URL for image bytes, its type read from the bytes' signature."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"Image takes the bytes of a PNG, JPEG, GIF, WebP or SVG file, not "
            f"{type(data).__name__}; use Image.from_pil_image(...) or Image.from_matplotlib(...)"
        )
    raw = bytes(data)
    mime = next((m for sig, m in _IMAGE_SIGNATURES if raw.startswith(sig)), None)
    if mime is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None and b"<svg" in raw[:1024]:
        mime = "image/svg+xml"  # shown through <img>: an SVG's scripts do not run there
    if mime is None:
        raise TypeError("Image: these bytes are not a PNG, JPEG, GIF, WebP or SVG image")
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _pil_png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _figure_png(plot: Any) -> bytes:
    figure = plot if hasattr(plot, "savefig") else getattr(plot, "figure", None)
    if figure is None or not hasattr(figure, "savefig"):
        raise TypeError(f"Image.from_matplotlib takes a matplotlib figure, not {type(plot).__name__}")
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


class VegaChart(MetaflowCardComponent):
    """A Vega-Lite (or Vega) chart, drawn in the card by the bundled vega-embed."""

    needs: ClassVar[frozenset[str]] = frozenset({"vega"})

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        super().__init__()
        self.spec = _chart_spec(spec)
        self.show_controls = show_controls

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        return cls(altair_chart.to_dict())

    def update(self, spec: Any = None) -> None:
        if spec is not None:
            self.spec = _chart_spec(spec)

    def render(self) -> str:
        # JSON in a <script type="application/json"> block: "</" is escaped so the spec cannot
        # close the element, and the page script reads it with JSON.parse (never eval).
        payload = json.dumps(self.spec, default=str).replace("</", "<\\/")
        return ('<div class="hw-vega"><div class="hw-vega-target"></div>'
                f'<script type="application/json" class="hw-vega-spec">{payload}</script></div>')


def _chart_spec(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "to_dict") and not isinstance(spec, dict):
        spec = spec.to_dict()
    if not isinstance(spec, dict):
        raise TypeError(f"VegaChart takes a Vega-Lite spec (a dict) or an Altair chart, "
                        f"not {type(spec).__name__}")
    return spec


class ProgressBar(MetaflowCardComponent):
    """A bar from 0 to ``max``; ``update(value)`` moves it on a live card."""

    def __init__(self, max: int = 100, label: str | None = None, value: int = 0,
                 unit: str | None = None, metadata: str | None = None) -> None:
        super().__init__()
        self.max, self.label, self.value, self.unit, self.details = max, label, value, unit, metadata

    def update(self, new_value: int, metadata: str | None = None) -> None:
        self.value = new_value
        if metadata is not None:
            self.details = metadata

    def render(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        label = html.escape(self.label or "")
        details = (f'<span class="hw-note">{html.escape(str(self.details))}</span>'
                   if self.details else "")
        return (f'<div class="hw-progress"><label>{label}</label>'
                f'<progress max="{float(self.max):g}" value="{float(self.value):g}"></progress>'
                f"<span>{html.escape(str(self.value))} / {html.escape(str(self.max))}"
                f"{html.escape(unit)}</span>{details}</div>")


class Artifact(MetaflowCardComponent):
    """Any value, shown as a bounded preview (a huge array gives a summary, not a hang)."""

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        super().__init__()
        self.value, self.name, self.compressed = artifact, name, compressed

    def update(self, artifact: Any) -> None:
        self.value = artifact

    def render(self) -> str:
        name = f"<h4>{html.escape(self.name)}</h4>" if self.name else ""
        return f'<div class="hw-artifact">{name}{preview.preview_html(self.value)}</div>'


class Error(MetaflowCardComponent):
    """An exception (or a message) with its traceback, shown as an error box."""

    def __init__(self, exception: Any, title: str | None = None) -> None:
        super().__init__()
        self.exception, self.title = exception, title

    def render(self) -> str:
        import traceback

        exc = self.exception
        if isinstance(exc, BaseException):
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        else:
            text = str(exc)
        title = html.escape(self.title or "Error")
        return (f'<div class="hw-error"><strong>{title}</strong>'
                f"<pre>{html.escape(text)}</pre></div>")


class ValueBox(MetaflowCardComponent):
    """One number or short value, big, with a title and an optional change line."""

    def __init__(self, title: str | None = None, value: Any = "", subtitle: str | None = None,
                 theme: str | None = None, change_indicator: str | None = None) -> None:
        super().__init__()
        self.title, self.value, self.subtitle = title, value, subtitle
        self.theme, self.change_indicator = theme, change_indicator

    def update(self, value: Any = None, title: str | None = None, subtitle: str | None = None,
               change_indicator: str | None = None) -> None:
        for name, new in (("value", value), ("title", title), ("subtitle", subtitle),
                          ("change_indicator", change_indicator)):
            if new is not None:
                setattr(self, name, new)

    def render(self) -> str:
        theme = html.escape(str(self.theme or "default"), quote=True)
        parts = [f'<div class="hw-valuebox hw-theme-{theme}">']
        if self.title:
            parts.append(f'<div class="hw-vb-title">{html.escape(str(self.title))}</div>')
        parts.append(f'<div class="hw-vb-value">{html.escape(str(self.value))}</div>')
        if self.subtitle:
            parts.append(f'<div class="hw-note">{html.escape(str(self.subtitle))}</div>')
        if self.change_indicator:
            parts.append(f'<div class="hw-vb-change">{html.escape(str(self.change_indicator))}</div>')
        return "".join(parts) + "</div>"


class PythonCode(MetaflowCardComponent):
    """Python source, shown as a code block (from a string or a function's source)."""

    def __init__(self, code_func: Any = None, code_string: str | None = None) -> None:
        super().__init__()
        if code_string is None and code_func is not None:
            import inspect

            code_string = inspect.getsource(code_func)
        self.code = code_string or ""

    def render(self) -> str:
        return f'<pre class="hw-code"><code>{html.escape(self.code)}</code></pre>'


class JSONViewer(MetaflowCardComponent):
    """A JSON-able value as indented, collapsible JSON."""

    def __init__(self, data: Any, collapsible: bool = True, max_height: str | None = None,
                 show_copy_button: bool = False) -> None:
        super().__init__()
        self.data, self.collapsible, self.max_height = data, collapsible, max_height

    def update(self, data: Any) -> None:
        self.data = data

    def _text(self) -> str:
        return preview.clip(json.dumps(self.data, indent=2, default=str, ensure_ascii=False))

    def render(self) -> str:
        style = ""
        if self.max_height and all(c.isalnum() or c in ".%" for c in str(self.max_height)):
            style = f' style="max-height:{self.max_height};overflow:auto"'
        body = f'<pre class="hw-code"{style}>{html.escape(self._text())}</pre>'
        if self.collapsible:
            return f'<details open class="hw-viewer"><summary>{self._kind}</summary>{body}</details>'
        return body

    _kind = "JSON"


class YAMLViewer(JSONViewer):
    """A value as YAML (PyYAML when installed, else JSON, which is valid YAML)."""

    _kind = "YAML"

    def _text(self) -> str:
        try:
            import yaml
        except ImportError:
            return super()._text()
        return preview.clip(yaml.safe_dump(json.loads(json.dumps(self.data, default=str)),
                                           sort_keys=False, allow_unicode=True))


COMPONENT_NAMES = (
    "Artifact", "Error", "Image", "JSONViewer", "Markdown", "MetaflowCardComponent",
    "ProgressBar", "PythonCode", "Table", "ValueBox", "VegaChart", "YAMLViewer",
)

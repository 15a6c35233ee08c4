"""Render a task's cards and store them: called in the task's process, after the step.

Each card becomes one HTML blob in the datastore (content-addressed, like logs); the records
returned here ride in the TaskResult and the scheduler writes them to the metadata. A card type
that raises or runs past its ``timeout`` yields an error card (``save_errors=True``, the default)
so the viewer learns why, and never fails the task.
"""

from __future__ import annotations

import html
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from headwater.cards.card_types import MetaflowCard, card_class
from headwater.cards.page import html_page

LIVE_PREFIX = "cards/live"


class CardTimeout(BaseException):
    """A card's render ran past its timeout (not an Exception: a card type's own
    ``except Exception`` cannot swallow it)."""


def card_label(decl: dict[str, Any]) -> str:
    return f"@card(type={decl['type']!r}" + (f", id={decl['id']!r})" if decl.get("id") else ")")


def is_editable(decl: dict[str, Any]) -> bool:
    """Whether the card's type takes ``current.card`` components (unknown types: no)."""
    try:
        return bool(card_class(decl["type"]).ALLOW_USER_COMPONENTS)
    except Exception:  # noqa: BLE001 - the error is reported when the card renders
        return False


def make_card(decl: dict[str, Any], components: list[Any], graph: Any, flow: Any) -> MetaflowCard:
    cls = card_class(decl["type"])
    options = dict(decl.get("options") or {})
    if decl.get("id"):
        options.setdefault("_card_id", decl["id"])
    return cls(options=options, components=components if cls.ALLOW_USER_COMPONENTS else [],
               graph=graph, flow=flow)


def render_html(decl: dict[str, Any], render: Callable[[], str], where: str) -> str | None:
    """``render()`` under the card's timeout; an error page (or None) when it fails."""
    try:
        text = _with_timeout(float(decl.get("timeout") or 0), render)
        if not isinstance(text, str):
            raise TypeError(f"render() returned {type(text).__name__}, not the card's HTML (str)")
        return text
    except BaseException as exc:  # noqa: BLE001 - a card never fails its task
        if isinstance(exc, KeyboardInterrupt):
            raise
        why = (f"rendering took longer than its timeout of {decl.get('timeout')} s"
               if isinstance(exc, CardTimeout) else f"{type(exc).__name__}: {exc}")
        print(f"{card_label(decl)} of task {where} was not rendered: {why}", file=sys.stderr)
        if not decl.get("save_errors", True):
            return None
        detail = "" if isinstance(exc, CardTimeout) else "".join(traceback.format_exception(exc))
        body = (f'<div class="hw-error"><strong>{html.escape(card_label(decl))} of task '
                f"{html.escape(where)} could not be rendered: {html.escape(why)}</strong>"
                f"<pre>{html.escape(detail)}</pre></div>")
        return html_page(f"{where} card error", body, card_type=decl["type"],
                         card_id=decl.get("id"))


def _with_timeout(seconds: float, func: Callable[[], str]) -> str:
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return func()

    def expire(signum: int, frame: Any) -> None:
        raise CardTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return func()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def store_card(store: Any, decl: dict[str, Any], index: int, text: str) -> dict[str, Any]:
    """Save one card's HTML as a blob; the record the metadata keeps."""
    ref = store.save_bytes(text.encode("utf-8"))
    return {"index": index, "type": decl["type"], "id": decl.get("id"), "key": ref.key,
            "size": ref.size}


def live_key(pathspec: str, index: int, decl: dict[str, Any]) -> str:
    """Where the running task keeps card ``index``'s latest render (overwritten in place)."""
    return f"{LIVE_PREFIX}/{pathspec}/{index}.{decl['type']}.{decl.get('id') or ''}.html"


def live_data_key(pathspec: str, index: int, decl: dict[str, Any]) -> str:
    """Where a live-updatable card's latest data (what its last render was handed) is kept,
    beside its live render; it stays after the task, holding the final render's data."""
    return f"{LIVE_PREFIX}/{pathspec}/{index}.{decl['type']}.{decl.get('id') or ''}.data.json"


def reload_token(card: Any, task: Any, data: dict[str, Any]) -> str:
    """The token telling a viewer whether to reload ``card`` rendered with ``data``, by the
    type's ``RELOAD_POLICY`` (Metaflow's rule: "final" for the render at the task's end)."""
    if data.get("render_seq") == "final":
        return "final"
    policy = getattr(card, "RELOAD_POLICY", "never")
    if policy == "always":
        return f"render-seq-{data.get('render_seq')}"
    if policy == "onchange":
        return str(card.reload_content_token(task, data))
    return "never"


def with_reload_token(text: str, card: Any, task: Any, data: dict[str, Any]) -> str:
    """``text`` with the type's reload-token placeholder filled in (unchanged if none)."""
    placeholder = getattr(card, "RELOAD_POLICY_TOKEN", None)
    if not placeholder or placeholder not in text:
        return text
    try:
        return text.replace(placeholder, reload_token(card, task, data))
    except Exception:  # noqa: BLE001 - a token that cannot be made leaves the page as rendered
        return text


def parse_live_name(name: str) -> tuple[int, str, str | None] | None:
    """``3.default.myid.html`` -> (3, "default", "myid")."""
    parts = name.split(".")
    if len(parts) != 4 or parts[3] != "html" or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1], parts[2] or None

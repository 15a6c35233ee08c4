"""``get_cards(task)``: the cards a task kept, as Metaflow's client returns them.

A finished task's cards are listed in its metadata record (written by the scheduler from the
task's result) and each is an HTML blob in the datastore. A task still running has no record yet;
its live cards are read from where the task rewrites them (``cards/live/<pathspec>/``).
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from headwater.client import _context
from headwater.client.core import Task
from headwater.exceptions import CardNotPresentException, HeadwaterException

LIVE_PREFIX = "cards/live"  # the same layout as headwater.cards.render.live_key


class Card:
    """One card of a task: ``html`` (loaded on first read), ``id``, ``type``, ``path``."""

    def __init__(self, pathspec: str, type: str, id: str | None, *, key: str | None = None,
                 live_key: str | None = None, size: int | None = None,
                 index: int | None = None) -> None:
        self.pathspec, self.type, self._id = pathspec, type, id
        self._key, self._live_key, self.size = key, live_key, size
        self._index = index
        self._html: str | None = None

    @property
    def id(self) -> str | None:
        return self._id

    @property
    def hash(self) -> str | None:
        """The content hash of a finished card (None for a live card)."""
        return self._key

    @property
    def live(self) -> bool:
        """True for the latest render of a card whose task is still running."""
        return self._key is None

    @property
    def path(self) -> str:
        """Where the card's HTML is in the datastore."""
        root = _context.current().store().root
        from headwater.store.datastore import blob_path

        key = blob_path(self._key) if self._key else self._live_key
        return f"{root.rstrip('/')}/{key}"

    def get(self) -> str:
        """The card's HTML."""
        if self._html is None or self.live:
            store = _context.current().store()
            what = f"card {self.type}{' ' + self._id if self._id else ''} of task {self.pathspec}"
            if self._key:
                data = store.load_bytes(self._key, what=what)
            else:
                data = bytes(store.storage.read(self._live_key))
            self._html = data.decode("utf-8", errors="replace")
        return self._html

    @property
    def html(self) -> str:
        return self.get()

    def get_data(self) -> dict[str, Any] | None:
        """The data a live-updatable card (``RUNTIME_UPDATABLE``) was last rendered with, as
        Metaflow's ``Card.get_data()``: ``{"data": {"user": the step's last
        current.card.refresh(data), "mode", "render_seq", "components", ...}, "reload_token":
        ..., "created_on": ...}``; None for a card with no such data."""
        import json

        if self._live_key is not None:
            key = self._live_key[: -len(".html")] + ".data.json"
        elif self._index is not None:
            key = (f"{LIVE_PREFIX}/{self.pathspec}/{self._index}.{self.type}."
                   f"{self._id or ''}.data.json")
        else:
            return None
        storage = _context.current().store().storage
        if storage.size(key) is None:
            return None
        raw = bytes(storage.read(key))
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            return None  # caught mid-write by a reader of a running task: no data yet

    def save(self, path: str) -> str:
        from headwater.outfiles import replace_file  # never through another user's link

        replace_file(path, self.get().encode("utf-8"), private=False)
        return path

    def view(self) -> str:
        """Open the card in a web browser, inside a sandboxed frame (see
        :func:`write_private_copy`); returns the file it was written to."""
        path = write_private_copy(self)
        import webbrowser

        webbrowser.open("file://" + path)
        return path

    def __str__(self) -> str:
        return f"<Card {self.type}{' id=' + self._id if self._id else ''} of {self.pathspec}>"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """The card in a notebook cell: in a sandboxed frame under the card policy, so its
        scripts cannot reach the notebook (a bare ``srcdoc`` frame shares the notebook's origin,
        and with it the kernel)."""
        from headwater.client.card_sandbox import framed_cell

        return framed_cell(self.get(), str(self))


VIEWS_KEPT_S = 24 * 3600.0
"""How long a card written for a browser is kept (the browser reads it after we return)."""


def views_dir() -> str:
    """This user's folder of cards written for a browser, ``<tmp>/headwater-cards-<uid>``."""
    return os.path.join(tempfile.gettempdir(), f"headwater-cards-{os.getuid()}")


def write_private_copy(card: Card) -> str:
    """The card in a fresh private (0700) folder inside :func:`views_dir`, for a browser to open.

    What is written is a page holding the card in a sandboxed frame under the card policy
    (``client/card_sandbox.py``), as the web UI shows it: the card is HTML any flow (anyone's, in a
    shared datastore) wrote, and opened bare from a ``file://`` address its scripts would run
    with the rights of a local page (reading the views folder, loading from anywhere).

    The browser opens the file after this returns, so it cannot be removed now; instead each
    view removes the views older than :data:`VIEWS_KEPT_S` (every ``card view`` used to leave a
    ``headwater-card-*`` folder in the temp folder for good)."""
    views = _private_views_dir()
    _remove_old_views(views)
    folder = tempfile.mkdtemp(prefix="view-", dir=views)
    path = os.path.join(folder, _view_file_name(card))
    from headwater.client.card_sandbox import framed_page
    from headwater.outfiles import replace_file

    replace_file(path, framed_page(card.get(), f"headwater: {card}").encode("utf-8"), private=True)
    return path


def _view_file_name(card: Card) -> str:
    """``FLOW_RUN_STEP_TASK_TYPE[_ID].html`` in letters, digits, ``.``, ``_`` and ``-`` only, at
    most 150 characters: the type and id come from the task's record, which anyone who can
    write a shared datastore chose (a NUL there was a ``ValueError`` traceback, 300 characters
    a name the file system refuses)."""
    import re

    stem = f"{card.pathspec}_{card.type}{'_' + card.id if card.id else ''}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem.replace("/", "_"))[:150] + ".html"


def _private_views_dir() -> str:
    """:func:`views_dir`, created 0700; refused when it is a link, another user's, or writable
    by others (a planted folder could hold a page the browser would open as this user's)."""
    from headwater.folders import private_folder_problem

    path = views_dir()
    problem = private_folder_problem(path)
    if problem:
        raise HeadwaterException(
            f"the folder for cards opened in a browser, {path}, {problem}",
            fix="remove it (headwater makes it again, private), or set TMPDIR to a folder only "
                "you can write")
    return path


def _remove_old_views(views: str) -> None:
    import shutil
    import time

    cutoff = time.time() - VIEWS_KEPT_S
    with os.scandir(views) as entries:
        for entry in entries:
            try:
                old = entry.name.startswith("view-") and entry.stat(
                    follow_symlinks=False).st_mtime < cutoff
            except OSError:
                continue
            if old:
                shutil.rmtree(entry.path, ignore_errors=True)


class CardContainer:
    """The cards of one task: a list, shown as the cards themselves in a notebook."""

    def __init__(self, cards: list[Card], origin_pathspec: str | None = None) -> None:
        self._cards = cards
        self.origin_pathspec = origin_pathspec
        self.from_resumed = origin_pathspec is not None

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, index: int) -> Card:
        return self._cards[index]

    def __repr__(self) -> str:
        return f"<CardContainer {self._cards!r}>"

    def _repr_html_(self) -> str:
        return "".join(f"<h3>{html.escape(str(c))}</h3>{c._repr_html_()}" for c in self._cards)


def get_cards(task: Task | str, id: str | None = None, type: str | None = None,
              follow_resumed: bool = True) -> CardContainer:
    """The cards of ``task`` (a client Task or a ``Flow/Run/Step/Task`` pathspec), optionally
    only those with ``id`` or of ``type``.

    As with Metaflow, a task that has no card at all raises ``CardNotPresentException`` (code
    written for Metaflow catches it to skip such tasks), while ``id``/``type`` matching none of
    a task's cards gives an empty container.

    A task a resume cloned shows the cards its origin made (``follow_resumed=True``, the
    default); with ``follow_resumed=False`` it has none of its own, as in Metaflow, and raises.
    """
    cards = task_cards(task)
    pathspec = task if isinstance(task, str) else task.pathspec
    if not follow_resumed and cards.origin_pathspec:
        raise CardNotPresentException(
            f"task {pathspec} was cloned by resume from {cards.origin_pathspec} and made no "
            "card of its own",
            fix="pass follow_resumed=True (the default) to get the cards of the task it was "
                "cloned from")
    if not cards:
        raise CardNotPresentException(
            f"task {pathspec} has no card",
            fix="add @card to the step (or run with --with card); `card list` shows the cards "
                "of a run's tasks")
    return select_cards(cards, id, type)


def task_cards(task: Task | str) -> CardContainer:
    """Every card of ``task``, an empty container when it has none (for callers that list many
    tasks, such as ``card list``, where a task without cards is no error)."""
    if isinstance(task, str):
        task = Task(task, _namespace_check=False)
    elif not isinstance(task, Task):
        raise TypeError(f"get_cards takes a Task or a task pathspec, not {task.__class__.__name__}")
    row = task._fresh()
    records = (row.transition or {}).get("cards")
    if records is None and not task.finished:
        cards = _live_cards(task.pathspec)
    else:
        cards = [Card(task.pathspec, r["type"], r.get("id"), key=r["key"], size=r.get("size"),
                      index=r.get("index"))
                 for r in records or ()]
    return CardContainer(cards, origin_pathspec=row.origin_pathspec)


def select_cards(cards: CardContainer, id: str | None, type: str | None) -> CardContainer:
    """The cards of ``cards`` with ``id`` and of ``type`` (None: any)."""
    kept = [c for c in cards if (id is None or c.id == id) and (type is None or c.type == type)]
    return CardContainer(kept, origin_pathspec=cards.origin_pathspec)


def _live_cards(pathspec: str) -> list[Card]:
    storage = _context.current().store().storage
    prefix = f"{LIVE_PREFIX}/{pathspec}/"
    found = []
    for key in storage.list(prefix):
        parts = key[len(prefix):].split(".")
        if len(parts) == 4 and parts[0].isdigit() and parts[3] == "html":
            found.append((int(parts[0]), Card(pathspec, parts[1], parts[2] or None, live_key=key)))
    return [card for _, card in sorted(found, key=lambda pair: pair[0])]


def require_cards(task: Task | str, id: str | None = None,
                  type: str | None = None) -> CardContainer:
    """``get_cards``, raising CardNotPresentException (naming what was asked) when empty."""
    every = task_cards(task)
    cards = select_cards(every, id, type)
    if len(cards) == 0:
        pathspec = task if isinstance(task, str) else task.pathspec
        wanted = ", ".join(f"{k}={v!r}" for k, v in (("id", id), ("type", type)) if v)
        fix = "add @card to the step (or run with --with card); `card list` shows its cards"
        if len(every):  # it has cards, only not the one asked for: say which it has
            held = ", ".join(f"type={c.type!r}" + (f" id={c.id!r}" if c.id else "")
                             for c in every)
            fix = (f"it has {len(every)} card(s): {held}; ask for one of those, "
                   "or add a @card of that kind to the step")
        raise CardNotPresentException(
            f"task {pathspec} has no card{' with ' + wanted if wanted else ''}", fix=fix)
    return cards

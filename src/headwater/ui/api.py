"""The JSON API under ``/api`` (documented in docs/ui.md); the pages are built on it.

Handlers are plain functions over :class:`headwater.ui.reader.Reader`; the database and the
datastore are read in Starlette's thread pool so one slow read never stalls the event streams.
Errors a reader can cause (an unknown run, a bad name, a bad number) answer 404 with the message
as JSON; headwater's other errors (a damaged blob, an unreadable database) answer 500 the same way
(:func:`error_answer`, the app's handler for every :class:`HeadwaterException`).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from headwater.client.card_sandbox import CARD_POLICY, CARD_SANDBOX, after_doctype
from headwater.exceptions import HeadwaterException, NotFoundError
from headwater.meta.rows import STATUSES
from headwater.ui import events, logfind
from headwater.ui.reader import ARTIFACTS_PAGE, TASK_ORDERS, TASK_SORTS, Reader

MAX_PAGE = 500
MAX_NUMBER = 1 << 62  # offsets and attempts are clamped here: the database holds 64-bit integers

# The card is someone's HTML: it runs sandboxed (no same origin, so no cookie and no API), may
# run its own inline scripts (Vega charts), and may fetch nothing: the policy every reader of a
# card applies (`client/card_sandbox.py`), with the header-only parts added.
CARD_CSP = f"sandbox {CARD_SANDBOX}; {CARD_POLICY}; frame-ancestors 'self'"


# Put at the top of every card served: the card's height, posted to the UI page holding its frame
# whenever it changes, so the frame fits the card (the page cannot measure a frame of another
# origin, and the sandbox keeps it another origin). It runs with the card's own rights, which
# already include posting to its parent: nothing is loosened. Measured from the root element's
# box, so a card that shrinks gets a shorter frame; its scroll height once it overflows.
# First in the document (after a doctype, which must stay first or the card would be drawn in
# quirks mode): a card's own <meta> Content-Security-Policy forbidding inline scripts applies
# only to what follows it, so it cannot stop these lines, while it still holds for the card's.
#
# A card without a doctype (a custom card returning "<html><body>...") is drawn in quirks mode,
# where the root and the body stretch to the frame: measured as above, the frame could never
# shrink from its first height. There the content itself is measured (a range over the body's
# contents, text included) and a change to it is noticed by a MutationObserver, as resizing the
# root no longer says anything.
CARD_SIZE_SCRIPT = """
<script>/* headwater UI: fit this card's frame to its content */
(function () {
  var last = -1;
  function height() {
    var root = document.documentElement, body = document.body;
    if (document.compatMode === "BackCompat" && body) {
      var range = document.createRange();
      range.selectNodeContents(body);
      var end = range.getBoundingClientRect().bottom + window.scrollY;
      return Math.ceil(end + (parseFloat(getComputedStyle(body).marginBottom) || 0));
    }
    var h = Math.ceil(root.getBoundingClientRect().height);
    return root.scrollHeight > window.innerHeight ? Math.max(h, root.scrollHeight) : h;
  }
  function post() {
    var h = height();
    if (h !== last) { last = h; parent.postMessage({ headwaterCardHeight: h }, "*"); }
  }
  if (window.ResizeObserver) new ResizeObserver(post).observe(document.documentElement);
  if (window.MutationObserver && document.compatMode === "BackCompat") {
    new MutationObserver(post).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
  }
  addEventListener("load", post);
  post();
})();
</script>
"""


def _reader(request: Request) -> Reader:
    return request.app.state.reader


def _int(request: Request, name: str, default: int, *, low: int = 0,
         high: int | None = None) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise NotFoundError(f"query parameter {name}={raw!r} is not a number",
                            fix=f"give {name} as a whole number") from None
    return min(max(low, value), MAX_NUMBER if high is None else high)


async def _read(request: Request, func: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(...)`` in the thread pool, inside one reader session."""
    return await run_in_threadpool(_reader(request).call, func, *args, **kwargs)


async def _answer(func: Any, *args: Any, **kwargs: Any) -> Response:
    return JSONResponse(await run_in_threadpool(func.__self__.call, func, *args, **kwargs))


async def error_answer(request: Request, err: Exception) -> Response:
    """A :class:`HeadwaterException` raised anywhere in a handler, as JSON: 404 for something
    that is not there (or a bad name or number in the address), 500 for the rest."""
    status = 404 if isinstance(err, NotFoundError) else 500
    return JSONResponse({"error": getattr(err, "msg", str(err)), "fix": getattr(err, "fix", None)},
                        status_code=status)


async def flows(request: Request) -> Response:
    return await _answer(_reader(request).flows)


async def runs(request: Request) -> Response:
    q = request.query_params
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        return JSONResponse({"error": f"unknown status {status!r}",
                             "fix": f"use one of {', '.join(STATUSES)}"}, status_code=404)
    return await _answer(_reader(request).runs, flow=q.get("flow") or None, status=status,
                         tag=q.get("tag") or None, user=q.get("user") or None,
                         limit=_int(request, "limit", 50, low=1, high=MAX_PAGE),
                         offset=_int(request, "offset", 0))


async def run(request: Request) -> Response:
    p = request.path_params
    return await _answer(_reader(request).run, p["flow"], p["run_id"])


TASK_STATUSES = ("running", "succeeded", "failed", "caught")  # caught: @catch caught its error


async def tasks(request: Request) -> Response:
    p = request.path_params
    status = request.query_params.get("status") or None
    if status is not None and status not in TASK_STATUSES:
        raise NotFoundError(f"unknown task status {status[:40]!r}",
                            fix=f"use one of {', '.join(TASK_STATUSES)}")
    sort = request.query_params.get("sort") or None
    if sort is not None and sort not in TASK_SORTS:
        raise NotFoundError(f"cannot sort tasks by {sort[:40]!r}",
                            fix=f"sort by one of {', '.join(TASK_SORTS)}")
    order = request.query_params.get("order") or "asc"
    if order not in TASK_ORDERS:
        raise NotFoundError(f"unknown sort order {order[:40]!r}", fix="use order=asc or order=desc")
    return await _answer(_reader(request).tasks, p["flow"], p["run_id"], status=status,
                         step=request.query_params.get("step") or None, sort=sort, order=order,
                         limit=_int(request, "limit", 100, low=1, high=MAX_PAGE),
                         offset=_int(request, "offset", 0))


def _task_args(request: Request) -> tuple[str, str, str, str]:
    p = request.path_params
    return p["flow"], p["run_id"], p["step"], p["task_id"]


async def task(request: Request) -> Response:
    return await _answer(_reader(request).task, *_task_args(request))


async def artifacts(request: Request) -> Response:
    """One page of the task's artifacts (``?offset=&limit=``, at most 500; ``q`` keeps those
    whose name holds it): what the task page shows past its first page."""
    return await _answer(_reader(request).task_artifacts, *_task_args(request),
                         offset=_int(request, "offset", 0),
                         limit=_int(request, "limit", ARTIFACTS_PAGE, low=1, high=MAX_PAGE),
                         query=request.query_params.get("q") or "")


async def log(request: Request) -> Response:
    """The log so far; with ``?tail=BYTES`` only its end (from a line's start where one is
    near), so a page never loads hundreds of megabytes to show the last lines.
    ``X-Headwater-Log-Size`` is the whole log's size either way."""
    attempt = request.query_params.get("attempt")
    tail = request.query_params.get("tail")
    data, final, number = await _read(
        request, _reader(request).log, *_task_args(request), request.path_params["stream"],
        None if attempt is None else _int(request, "attempt", 0))
    size = len(data)
    if tail is not None:
        data = events.log_tail(data, _int(request, "tail", 0, low=1))
    return Response(data, media_type="text/plain; charset=utf-8",
                    headers={"x-headwater-final": "1" if final else "0",
                             "x-headwater-attempt": str(number),
                             "x-headwater-log-size": str(size)})


def _attempt(request: Request) -> int | None:
    return None if request.query_params.get("attempt") is None else _int(request, "attempt", 0)


async def log_find(request: Request) -> Response:
    """The lines of the whole log holding ``?q=TEXT`` (plain text, any case; bounded answers,
    see :mod:`headwater.ui.logfind`), from line ``from`` on, ``limit`` at most."""
    return await _answer(_reader(request).log_find, *_task_args(request),
                         request.path_params["stream"], _attempt(request),
                         request.query_params.get("q") or "",
                         limit=_int(request, "limit", 200, low=1, high=logfind.MAX_LISTED),
                         from_line=_int(request, "from", 1, low=1))


async def log_lines(request: Request) -> Response:
    """``count`` lines of the whole log from line ``from`` (the lines around a match)."""
    return await _answer(_reader(request).log_lines, *_task_args(request),
                         request.path_params["stream"], _attempt(request),
                         _int(request, "from", 1, low=1),
                         _int(request, "count", 200, low=1, high=logfind.MAX_WINDOW))


async def artifact(request: Request) -> Response:
    """An artifact's value for download, named in the query (``artifact?name=NAME``, any name:
    what the page links to) or in the path (``artifacts/NAME``, ``/`` as ``%2F``, for the names
    a path carries: a browser rewrites ``.`` and ``..``, and a route matches no line break)."""
    name = request.path_params.get("name")
    if name is None:
        name = request.query_params.get("name") or ""
    elif request.scope["path"].endswith("\n"):  # a route's `$` matches before a last line break
        raise NotFoundError(f"no artifact named {name[:80]!r} + a line break in the path",
                            fix="name an artifact holding line breaks in the query: "
                            "artifact?name=NAME")
    data, filename = await _read(
        request, _reader(request).artifact_value, *_task_args(request), name)
    return Response(data, media_type=DOWNLOAD_TYPES.get(filename.rpartition(".")[2],
                                                        "application/octet-stream"),
                    headers={"content-disposition": attachment(filename),
                             "x-content-type-options": "nosniff"})


# What a download is, by the file name the reader gave it: text, raw bytes, a Python pickle.
DOWNLOAD_TYPES = {"txt": "text/plain; charset=utf-8", "bin": "application/octet-stream",
                  "pickle": "application/x-python-pickle"}


MAX_FILENAME = 120
"""Characters of a download's name: most file systems take 255 bytes, and a UTF-8 character
may take 4."""


def attachment(filename: str) -> str:
    """A Content-Disposition naming ``filename`` whatever its script: an ASCII fallback, and
    the UTF-8 name (RFC 6266 ``filename*``) browsers use. Headers are Latin-1, so a name like
    ``数据.pickle`` written as is could not be sent at all.

    Control and format characters become ``_`` in both: an artifact's name is anyone's string,
    and a bidi override in a saved file's name shows its extension reversed
    (``report\u202efdp.pickle`` is listed as ``reportelkcip.pdf``), a line break splits it.
    So do ``/`` and ``\\`` (a name is one file, never a path), and a leading dot (no hidden
    file); a name longer than :data:`MAX_FILENAME` keeps its start and its extension."""
    import unicodedata

    shown = "".join("_" if unicodedata.category(c) in ("Cc", "Cf") or c in "/\\" else c
                    for c in filename)
    if shown.startswith("."):
        shown = "_" + shown[1:]
    if len(shown) > MAX_FILENAME:
        stem, dot, ext = shown.rpartition(".")
        shown = stem[:MAX_FILENAME - len(ext) - 1] + dot + ext
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in shown)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(shown, safe='')}"


async def card(request: Request) -> Response:
    raw = request.path_params["index"]
    if not (raw.isascii() and raw.isdigit()):
        raise NotFoundError(f"no card number {raw[:40]!r}",
                            fix="a card is addressed by its number among the task's cards: 0, 1, ...")
    try:
        text = await _read(request, _reader(request).card_html, *_task_args(request), int(raw))
    except HeadwaterException as err:
        if request.headers.get("sec-fetch-dest") != "iframe":
            raise  # a script asked: the JSON error answer
        # the task page's frame: a page saying what is missing and what to do, drawn where the
        # card would be (a JSON answer there is the browser's blank "cannot be shown" box)
        status = 404 if isinstance(err, NotFoundError) else 500
        return _card_answer(card_error_page(err, int(raw)), status)
    return _card_answer(text, 200)


def _card_answer(text: str, status: int) -> Response:
    return Response(with_size_script(text), status_code=status,
                    media_type="text/html; charset=utf-8",
                    headers={"content-security-policy": CARD_CSP,
                             "x-content-type-options": "nosniff", "cache-control": "no-store"})


def card_error_page(err: HeadwaterException, index: int) -> str:
    """The page a card's frame shows when the card cannot be read: the error and its fix,
    escaped (the message may quote a name from the run)."""
    fix = f"<p>Fix: {html.escape(err.fix)}</p>" if err.fix else ""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>card {index}</title>"
            "</head><body style=\"font:14px system-ui,sans-serif;margin:12px;color:#1f2328\">"
            f"<p class=\"card-error\" style=\"color:#b42318;overflow-wrap:anywhere\">"
            f"Cannot show card {index}: {html.escape(err.msg)}</p>{fix}</body></html>")


def with_size_script(card: str) -> str:
    """The card with :data:`CARD_SIZE_SCRIPT` first: right after its doctype if it has one."""
    return after_doctype(card, CARD_SIZE_SCRIPT)


_RUN = "/api/runs/{flow}/{run_id}"
_TASK = "/api/tasks/{flow}/{run_id}/{step}/{task_id}"

routes = [
    Route("/api/flows", flows),
    Route("/api/runs", runs),
    Route(_RUN, run),
    Route(_RUN + "/tasks", tasks),
    Route(_RUN + "/events", events.run_events),
    Route(_TASK, task),
    Route(_TASK + "/logs/events", events.task_log_events),  # both logs; before /logs/{stream}
    Route(_TASK + "/logs/{stream}", log),
    Route(_TASK + "/logs/{stream}/events", events.log_events),
    Route(_TASK + "/logs/{stream}/find", log_find),
    Route(_TASK + "/logs/{stream}/lines", log_lines),
    Route(_TASK + "/artifacts", artifacts),
    Route(_TASK + "/artifacts/{name:path}", artifact),
    Route(_TASK + "/artifact", artifact),
    Route(_TASK + "/cards/{index}", card),
]

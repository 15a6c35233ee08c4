"""The HTML pages: one small shell per URL, filled in by ``static/ui.js`` from the JSON API.

Every page has its own address, and every link is an ordinary ``<a href>``, so the back button,
bookmarks and "open in new tab" work. The shell carries what the page is about in ``data-``
attributes (escaped); the script fetches the rest.

A page for a flow, run or task that does not exist is a 404 page saying so (checked here, one
metadata query), not a 200 shell whose script finds out later: a shared link to a deleted run,
a mistyped id or a crawler all get an answer whose status and title tell the truth.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from headwater.exceptions import NotFoundError
from headwater.lookalikes import shown_label
from headwater.redaction import redact
from headwater.ui.reader import check_name

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")


# A drop of water, inline: no request for /favicon.ico (a 404 in every page's console).
ICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
        "%3Cpath d='M8 1C8 1 3 7 3 10a5 5 0 0 0 10 0C13 7 8 1 8 1z' fill='%231f6feb'/%3E%3C/svg%3E")
HEADERS = {"content-security-policy": PAGE_CSP, "x-frame-options": "DENY",
           "referrer-policy": "no-referrer"}


# An explicit bidirectional embedding, override or isolate makes the rest of a line read in
# another order; a title or a message quoting an address (anyone can send a link) or a record
# shows each as its escape, as the pages' script does (static/ui.js: shownText).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def shown_text(text: str) -> str:
    """``text`` with each explicit bidirectional control written as its escape (``\\u202e``)."""
    return _BIDI_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _page(title: str, main: str, status: int = 200) -> Response:
    # The title names a flow, a run, a step: a lookalike one (a Cyrillic letter in a flow's
    # name) shows as escapes there too, by the rules the page's names follow (lookalikes.py).
    title = shown_label(shown_text(title))
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · headwater</title>
<link rel="icon" href="{ICON}">
<link rel="stylesheet" href="/static/ui.css">
</head><body>
<header><a class="brand" href="/">headwater</a><nav id="crumbs" aria-label="breadcrumbs"></nav></header>
{main}
</body></html>
"""
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _shell(kind: str, title: str, **data: str) -> Response:
    attributes = " ".join(f'data-{k.replace("_", "-")}="{html.escape(v, quote=True)}"'
                          for k, v in data.items())
    return _page(title, f"""<main id="app" data-page="{kind}" {attributes}><p class="muted">Loading…</p></main>
<script src="/static/ui.js"></script>""")


def not_found_page(message: str, fix: str | None) -> Response:
    """A 404 page naming what is missing and what to do instead (no script: nothing to load)."""
    advice = f"<p>{html.escape(shown_text(fix))}</p>" if fix else ""
    return _page("Not found", f"""<main id="app"><h1>Not found</h1>
<p class="error">{html.escape(shown_text(message))}</p>{advice}
<p><a href="/">All runs</a></p></main>""", status=404)


async def not_found(request: Request, exc: Any) -> Response:
    """Starlette's answer for an address no route takes: JSON under /api, a page elsewhere."""
    path = request.url.path
    status = getattr(exc, "status_code", 404)
    if status != 404:
        return Response(str(getattr(exc, "detail", "")), status_code=status,
                        media_type="text/plain")
    if path.startswith("/api/"):
        return JSONResponse({"error": f"no API address {path[:200]}",
                             "fix": "see the JSON API in docs/ui.md"}, status_code=404)
    return not_found_page(f"no page at {path[:200]}", "start from the runs list")


def _checked(request: Request, *names: str) -> dict[str, str]:
    return {name: check_name(name.replace("_id", ""), request.path_params[name])
            for name in names}


async def _exists(request: Request, method: str, *args: str) -> None:
    """Raise the reader's NotFoundError unless the flow, run or task exists."""
    reader = request.app.state.reader
    await run_in_threadpool(reader.call, getattr(reader, method), *args)


async def runs_page(request: Request) -> Response:
    # the datastore read, for the page of a datastore without runs to name (the wrong folder?)
    return _shell("runs", "Runs",
                  datastore=redact(request.app.state.reader.settings.datastore_root))


async def flow_page(request: Request) -> Response:
    try:
        found = _checked(request, "flow")
        await _exists(request, "flow_row", found["flow"])
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    return _shell("runs", found["flow"], flow=found["flow"])


async def run_page(request: Request) -> Response:
    try:
        found = _checked(request, "flow", "run_id")
        await _exists(request, "run_row", found["flow"], found["run_id"])
        step = request.query_params.get("step")
        if step:  # the tasks of one step: a step the run does not have is a 404 too
            await _exists(request, "check_step", found["flow"], found["run_id"], step)
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    # the tasks of one step (``?step=``) are titled as that step's pathspec
    title = "/".join([found["flow"], found["run_id"], *([step] if step else [])])
    return _shell("run", title, **found)


async def up_to_runs(request: Request) -> Response:
    """``/runs`` and ``/flows`` (an address cut short): the runs list, which lists the flows."""
    return RedirectResponse("/", status_code=303)


async def up_to_flow(request: Request) -> Response:
    """``/runs/FLOW`` (a pathspec of one part): that flow's runs."""
    try:
        flow = _checked(request, "flow")["flow"]
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    return RedirectResponse(f"/flows/{quote(flow, safe='')}", status_code=303)


async def step_page(request: Request) -> Response:
    """``/runs/FLOW/RUN/STEP`` (a pathspec cut at its step): the run's page listing that step's
    tasks, where the step's tasks are."""
    try:
        found = _checked(request, "flow", "run_id", "step")
        await _exists(request, "check_step", found["flow"], found["run_id"], found["step"])
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    path = "/".join(quote(v, safe="") for v in (found["flow"], found["run_id"]))
    return RedirectResponse(f"/runs/{path}?step={quote(found['step'], safe='')}#tasks",
                            status_code=303)


async def task_page(request: Request) -> Response:
    try:
        found = _checked(request, "flow", "run_id", "step", "task_id")
        await _exists(request, "check_step", found["flow"], found["run_id"], found["step"])
        await _exists(request, "task_row", *found.values())
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    return _shell("task", "/".join(found.values()), **found)


async def compare_page(request: Request) -> Response:
    """``/compare/FLOW/A/B``: two runs of a flow side by side (parameters, steps' durations, the
    artifacts of one step's first task). Either run missing is a 404 naming it."""
    try:
        found = {"flow": check_name("flow", request.path_params["flow"]),
                 "a": check_name("run", request.path_params["a"]),
                 "b": check_name("run", request.path_params["b"])}
        for run_id in (found["a"], found["b"]):
            await _exists(request, "run_row", found["flow"], run_id)
        step = request.query_params.get("step")
        if step:  # a step neither run has is a 404 naming the first run's steps
            await _exists(request, "check_step", found["flow"], found["a"], step)
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    return _shell("compare", f"{found['flow']}/{found['a']} and {found['b']} compared", **found)


async def compare_form(request: Request) -> Response:
    """``/compare/FLOW/A?b=B`` (what the run page's form sends: its menu names the other run):
    the compare page's own address, so a comparison is a link like any other page."""
    try:
        flow = check_name("flow", request.path_params["flow"])
        a = check_name("run", request.path_params["a"])
        b = request.query_params.get("b", "")
        if not b:
            raise NotFoundError(f"nothing to compare {flow}/{a} with",
                                fix="pick the other run in the run page's compare menu (?b=RUN)")
        b = check_name("run", b)
    except NotFoundError as err:
        return not_found_page(err.msg, err.fix)
    path = "/".join(quote(v, safe="") for v in (flow, a, b))
    return RedirectResponse(f"/compare/{path}", status_code=303)


async def favicon(request: Request) -> Response:
    """The drop, for what has no page of ours around it (a log or an artifact opened as plain
    text): a browser asks for /favicon.ico then, and a 404 there is an error in its console."""
    svg = unquote(ICON.partition(",")[2])
    return Response(svg, media_type="image/svg+xml",
                    headers={"cache-control": "max-age=86400", **HEADERS})


routes = [
    Route("/favicon.ico", favicon),
    Route("/", runs_page),
    Route("/flows/{flow}", flow_page),
    Route("/runs", up_to_runs),
    Route("/flows", up_to_runs),
    Route("/runs/{flow}", up_to_flow),
    Route("/runs/{flow}/{run_id}", run_page),
    Route("/runs/{flow}/{run_id}/{step}", step_page),
    Route("/runs/{flow}/{run_id}/{step}/{task_id}", task_page),
    Route("/compare/{flow}/{a}", compare_form),
    Route("/compare/{flow}/{a}/{b}", compare_page),
]

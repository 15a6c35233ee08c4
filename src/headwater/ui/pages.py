"""The HTML pages: one small shell per URL, filled in by ``static/ui.js`` from the JSON API.

Every page has its own address, and every link is an ordinary ``<a href>``, so the back button,
bookmarks and "open in new tab" work. The shell carries what the page is about in ``data-``
attributes (escaped); the script fetches the rest.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from headwater.exceptions import NotFoundError
from headwater.ui.reader import check_name

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")


def _shell(kind: str, title: str, **data: str) -> Response:
    attributes = " ".join(f'data-{k.replace("_", "-")}="{html.escape(v, quote=True)}"'
                          for k, v in data.items())
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · headwater</title>
<link rel="stylesheet" href="/static/ui.css">
</head><body>
<header><a class="brand" href="/">headwater</a><nav id="crumbs"></nav></header>
<main id="app" data-page="{kind}" {attributes}><p class="muted">Loading…</p></main>
<script src="/static/ui.js"></script>
</body></html>
"""
    return HTMLResponse(body, headers={"content-security-policy": PAGE_CSP,
                                       "x-frame-options": "DENY",
                                       "referrer-policy": "no-referrer"})


def _checked(request: Request, *names: str) -> dict[str, str] | Response:
    values = {}
    for name in names:
        value = request.path_params[name]
        try:
            check_name(name.replace("_id", ""), value)
        except NotFoundError as err:
            return HTMLResponse(f"<p>{html.escape(err.msg)}</p>", status_code=404)
        values[name] = value
    return values


async def runs_page(request: Request) -> Response:
    return _shell("runs", "Runs")


async def flow_page(request: Request) -> Response:
    found = _checked(request, "flow")
    if isinstance(found, Response):
        return found
    return _shell("runs", found["flow"], flow=found["flow"])


async def run_page(request: Request) -> Response:
    found = _checked(request, "flow", "run_id")
    if isinstance(found, Response):
        return found
    return _shell("run", f"{found['flow']}/{found['run_id']}", **found)


async def task_page(request: Request) -> Response:
    found = _checked(request, "flow", "run_id", "step", "task_id")
    if isinstance(found, Response):
        return found
    title = "/".join(found.values())
    return _shell("task", title, **found)


routes = [
    Route("/", runs_page),
    Route("/flows/{flow}", flow_page),
    Route("/runs/{flow}/{run_id}", run_page),
    Route("/runs/{flow}/{run_id}/{step}/{task_id}", task_page),
]

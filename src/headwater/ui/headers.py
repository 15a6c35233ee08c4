"""Headers every answer of the UI carries, whatever produced it (a page, the API, a static file,
an event stream, the guard's own refusals).

- ``X-Content-Type-Options: nosniff``: a log or an artifact holding HTML is never taken for a
  page, whatever the browser guesses.
- A default ``Content-Security-Policy`` (nothing may load, nothing may frame it, sandboxed) for
  an answer that sets none: a log or JSON opened as a page is inert. Pages and cards set their own.
- ``Cross-Origin-Resource-Policy: same-origin``: another site cannot pull an answer into its
  page as an image, a script or a style (and learn from whether it loaded).
- ``Referrer-Policy: no-referrer``: a link out of a page does not tell where it came from.
- ``X-Headwater-Now``: the server's clock (POSIX seconds), so a page ticks durations from the
  server's time, not from a browser whose clock may be off by minutes or days.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"
NOW_HEADER = b"x-headwater-now"


def stamped(send: Callable) -> Callable:
    """``send`` adding the headers of the module docstring to the answer it starts."""

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", ())
                       if h[0].lower() not in (b"x-content-type-options", NOW_HEADER)]
            names = {h[0].lower() for h in headers}
            extra = [(b"x-content-type-options", b"nosniff"),
                     (NOW_HEADER, f"{time.time():.3f}".encode())]
            if b"content-security-policy" not in names:
                extra.append((b"content-security-policy", DEFAULT_CSP))
            if b"cross-origin-resource-policy" not in names:
                extra.append((b"cross-origin-resource-policy", b"same-origin"))
            if b"referrer-policy" not in names:
                extra.append((b"referrer-policy", b"no-referrer"))
            message = {**message, "headers": [*headers, *extra]}
        await send(message)

    return sending

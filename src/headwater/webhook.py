"""Posting an event to a webhook without handing its bearer token to anyone else.

Both senders of events use it: ``ArgoEvent.publish`` (:mod:`headwater.compat.argo_events`) and a
deployed run's end task announcing itself for ``@trigger_on_finish``
(:mod:`headwater.runtime.deployed`). urllib follows a redirect by resending the request, as a GET
with every header, the ``Authorization`` one too, to whatever host the answer names; and it reads
an answer to its end. Here no redirect is followed and an answer is read to 64 KiB.
"""

from __future__ import annotations

import urllib.request
from typing import Any

MAX_ANSWER_BYTES = 1 << 16  # the webhook's answer is read this far, then dropped


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: the answer's 3xx status is raised as an ``HTTPError``."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


def open_without_redirects(request: urllib.request.Request, timeout: float) -> Any:
    """``urlopen(request)`` that raises ``HTTPError`` for a redirect instead of following it."""
    return urllib.request.build_opener(NoRedirect).open(request, timeout=timeout)

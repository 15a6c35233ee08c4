"""``metaflow.integrations.ArgoEvent``: publish a named event to an Argo Events webhook.

Flows written for Metaflow (and libraries built on it, such as Outerbounds' ``obproject``) send
events that start other deployed flows (``@trigger(event=...)``) with
``ArgoEvent(name).publish(payload={...})``. headwater's Argo deployments listen on the same kind
of webhook, so the call does what it does under Metaflow: one JSON POST of
``{"name": NAME, "payload": {...}}``.

Where it goes: ``url=`` if given, else ``METAFLOW_ARGO_EVENTS_WEBHOOK_URL``, else
``HEADWATER_EVENTS_URL`` (what ``argo-workflows create --events-url`` gives a deployed task).
The bearer token is ``access_token=`` or ``HEADWATER_EVENTS_TOKEN``. ``publish`` sends always;
``safe_publish`` only inside a workflow Argo runs (``ARGO_WORKFLOW_TEMPLATE`` set), so a local
run of the flow sends nothing. A failure is a line on stderr, or ``ArgoEventException`` with
``ignore_errors=False`` -- Metaflow's rules, so a flow fails or carries on exactly as it would.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from headwater.exceptions import HeadwaterException
from headwater.webhook import MAX_ANSWER_BYTES, NoRedirect

URL_ENVS = ("METAFLOW_ARGO_EVENTS_WEBHOOK_URL", "HEADWATER_EVENTS_URL")
TOKEN_ENV = "HEADWATER_EVENTS_TOKEN"
SEND_ATTEMPTS = 3  # a connection refused is retried (1 s, 2 s apart); an HTTP error is not


class ArgoEventException(HeadwaterException):
    """An event could not be published (no webhook URL, the webhook refused it, ...)."""

    headline = "Argo Event Exception"


ArgoEventException.__module__ = "metaflow.plugins.argo.argo_events"


def _default_url() -> str | None:
    for name in URL_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


class ArgoEvent:
    """A named event with a payload of key-value pairs (the triggered flows' parameters)."""

    def __init__(self, name: str | Callable[[], str], url: str | None = None,
                 payload: dict[str, Any] | None = None,
                 access_token: str | None = None) -> None:
        if callable(name):
            name = name()
            if not isinstance(name, str):
                raise ArgoEventException(
                    f"the callable given as an event name returned {type(name).__name__}, "
                    "not a string", fix="return the event's name as a str")
        self._name = name
        self._url = url if url is not None else _default_url()
        self._payload = dict(payload or {})
        self._access_token = access_token

    def add_to_payload(self, key: str, value: Any) -> ArgoEvent:
        """Set ``key`` (often a triggered flow's parameter) to ``str(value)``; returns self."""
        self._payload[key] = str(value)
        return self

    def safe_publish(self, payload: dict[str, Any] | None = None,
                     ignore_errors: bool = True) -> str | None:
        """``publish`` inside a workflow Argo runs; elsewhere (a local run) send nothing."""
        return self.publish(payload=payload, force=False, ignore_errors=ignore_errors)

    def publish(self, payload: dict[str, Any] | None = None, force: bool = True,
                ignore_errors: bool = True) -> str | None:
        """POST the event; returns its id, or None when it was not sent (see the module doc)."""
        if not (force or os.environ.get("ARGO_WORKFLOW_TEMPLATE")):
            return self._fail(f"Argo Event ({self._name}) was not published: this is not a "
                              "workflow run by Argo; use ArgoEvent(...).publish(...) to send it "
                              "anyway", ignore_errors)
        event_id = str(uuid.uuid4())
        body = {"name": self._name, "payload": {
            "name": self._name, "id": event_id, "timestamp": int(time.time()),
            "utc_date": datetime.now(timezone.utc).strftime("%Y%m%d"),
            "generated-by-metaflow": True, **self._payload, **(payload or {})}}
        try:
            self._send(body)
        except Exception as exc:  # noqa: BLE001 - every failure is reported the one way
            return self._fail(f"Unable to publish Argo Event ({self._name}): {exc}",
                              ignore_errors)
        print(f"Argo Event ({self._name}) published.", file=sys.stderr)
        return event_id

    def _send(self, body: dict[str, Any]) -> None:
        if not self._url:
            raise ValueError("no webhook URL: set METAFLOW_ARGO_EVENTS_WEBHOOK_URL (or "
                             "HEADWATER_EVENTS_URL), or pass ArgoEvent(..., url=...)")
        _check_url(self._url)
        headers = {"Content-Type": "application/json"}
        token = self._access_token or os.environ.get(TOKEN_ENV)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self._url, data=json.dumps(body).encode("utf-8"),
                                         method="POST", headers=headers)
        opener = urllib.request.build_opener(NoRedirect)
        for attempt in range(SEND_ATTEMPTS):
            try:
                with opener.open(request, timeout=60) as response:
                    response.read(MAX_ANSWER_BYTES)
                return
            except urllib.error.HTTPError as err:
                if 300 <= err.code < 400:
                    raise ValueError(
                        f"the webhook answered with a redirect (HTTP {err.code}); events are "
                        "not sent on to another address, since the token would go with them: "
                        "give the address it redirects to (its Location) as the webhook URL"
                    ) from None
                raise
            except urllib.error.URLError:
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                time.sleep(2 ** attempt)

    def _fail(self, message: str, ignore_errors: bool) -> None:
        if not ignore_errors:
            raise ArgoEventException(message)
        print(message, file=sys.stderr)
        return None


def _check_url(url: str) -> None:
    """Refuse a webhook URL that is not http(s) (urllib would read a ``file:`` URL, such as
    ``/dev/zero``, as the answer) or that holds a user name or password (never sent as such by
    urllib, and no place for one: the token goes in ``HEADWATER_EVENTS_TOKEN``). The URL is not
    repeated: it may hold a credential."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"the webhook URL is not http:// or https:// (it is "
                         f"{parts.scheme[:20]!r}); set an http(s) address")
    if "@" in parts.netloc:
        raise ValueError("the webhook URL holds a user name or password (before an '@'), "
                         "which is never sent; give the token as access_token= or "
                         f"{TOKEN_ENV} and leave it out of the URL")


__all__ = ["ArgoEvent", "ArgoEventException"]

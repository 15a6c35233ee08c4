"""The UI's guard, spoken to in ASGI directly: what no HTTP client of the tests can send."""

from __future__ import annotations

import asyncio

import pytest

from headwater.ui.security import Guard


def _call(guard: Guard, scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent


@pytest.mark.parametrize("token", [None, "a-token-long-enough"])
def test_a_websocket_never_reaches_the_app_token_or_not(token):
    reached = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        reached.append(scope["type"])

    guard = Guard(app, token, owner=None)
    headers = [(b"host", b"localhost:8080"), (b"authorization", b"Bearer a-token-long-enough")]
    scope = {"type": "websocket", "path": "/api/flows", "headers": headers, "query_string": b""}
    assert _call(guard, scope) == [{"type": "websocket.close", "code": 1008}]
    assert reached == []
    _call(guard, {"type": "lifespan"})  # the server's start and stop still reach the app
    assert reached == ["lifespan"]


def _answer(guard: Guard, headers: list[tuple[bytes, bytes]], method: str = "GET") -> dict:
    scope = {"type": "http", "method": method, "path": "/api/flows", "headers": headers,
             "query_string": b""}
    return _call(guard, scope)[0]


async def _ok(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"x-content-type-options", b"sniff-please")]})
    await send({"type": "http.response.body", "body": b"[]"})


@pytest.mark.parametrize("extra, status", [
    ([], 200),  # curl, a script: no browser headers at all
    ([(b"sec-fetch-site", b"same-origin")], 200),
    ([(b"sec-fetch-site", b"none")], 200),  # typed in the address bar, a bookmark
    ([(b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"navigate"),
      (b"sec-fetch-dest", b"document")], 200),  # a link followed from elsewhere
    ([(b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"navigate"),
      (b"sec-fetch-dest", b"iframe")], 403),  # framed by another site
    ([(b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"cors")], 403),
    ([(b"sec-fetch-site", b"same-site"), (b"sec-fetch-mode", b"no-cors")], 403),
    ([(b"origin", b"http://localhost:8080")], 200),  # this server, by the name it was asked
    ([(b"origin", b"http://attacker.example")], 403),
    ([(b"origin", b"null")], 403),  # a sandboxed document: a card
    # behind a proxy the Host may not be the address the browser used: its own word wins
    ([(b"sec-fetch-site", b"same-origin"), (b"origin", b"https://ui.example")], 200),
])
def test_a_request_another_sites_page_makes_is_refused(extra, status):
    start = _answer(Guard(_ok, None, owner=None), [(b"host", b"localhost:8080"), *extra])
    assert start["status"] == status


def test_every_answer_carries_the_safety_headers_and_the_servers_clock():
    for app_status, headers in ((200, [(b"host", b"localhost:8080")]),
                                (403, [(b"host", b"attacker.example")])):
        start = _answer(Guard(_ok, None, owner=None), headers)
        assert start["status"] == app_status
        sent = dict(start["headers"])
        assert sent[b"x-content-type-options"] == b"nosniff"  # the app's own value replaced
        assert [k for k, _ in start["headers"]].count(b"x-content-type-options") == 1
        assert b"frame-ancestors 'none'" in sent[b"content-security-policy"]
        assert sent[b"cross-origin-resource-policy"] == b"same-origin"
        assert float(sent[b"x-headwater-now"]) > 1e9

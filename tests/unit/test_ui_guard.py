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

    guard = Guard(app, token)
    headers = [(b"host", b"localhost:8080"), (b"authorization", b"Bearer a-token-long-enough")]
    scope = {"type": "websocket", "path": "/api/flows", "headers": headers, "query_string": b""}
    assert _call(guard, scope) == [{"type": "websocket.close", "code": 1008}]
    assert reached == []
    _call(guard, {"type": "lifespan"})  # the server's start and stop still reach the app
    assert reached == ["lifespan"]

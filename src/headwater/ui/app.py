"""The Starlette application: pages, the JSON API, the static files, behind the guard."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from headwater.exceptions import HeadwaterException
from headwater.settings import Settings
from headwater.ui import api, pages
from headwater.ui.reader import Reader
from headwater.ui.security import Guard

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, token: str | None) -> Any:
    """The UI over ``settings``' metadata and datastore; ``token`` None means loopback only."""
    reader = Reader(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        reader.close()

    app = Starlette(routes=[*api.routes, *pages.routes,
                            Mount("/static", StaticFiles(directory=STATIC), name="static")],
                    lifespan=lifespan,
                    exception_handlers={HeadwaterException: api.error_answer,
                                        HTTPException: pages.not_found})
    app.state.reader = reader
    return Guard(app, token)

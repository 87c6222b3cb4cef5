"""The HTTP API's application: :func:`create_app` builds it over one store.

The store and the services live on ``app.state``: ``store``, ``analytics``
(:class:`~..analytics.service.EquipmentAnalyticsService`), ``recorder``
(:class:`~..ingest.recording.EquipmentMetricsService`), ``dashboards``
(:class:`~.snapshots.DashboardSnapshots`, whose worker process is stopped with the app) and ``settings``. Routers are
included at the end of :func:`create_app`. A store the app opened itself is closed on
shutdown; a store given to it is left to its owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..analytics.service import EquipmentAnalyticsService
from ..config import Settings, load_settings
from ..errors import RequestTooLargeError
from ..ingest.recording import EquipmentMetricsService
from ..stores.base import MetricsStore
from .problems import install_handlers, problem_response
from .snapshots import DashboardFastPath, DashboardSnapshots

#: Largest request body accepted (bytes); a larger one is answered 413.
MAX_BODY_BYTES = 10 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise RequestTooLargeError(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except RequestTooLargeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, f"The request body is larger than {self.limit:,} bytes.")
        await response(scope, receive, send)



def create_app(settings: Settings | None = None, store: MetricsStore | None = None) -> FastAPI:
    """The API over ``store`` (default: the configured store, opened here and closed on shutdown)."""
    settings = settings or load_settings()
    owned = store is None
    if store is None:
        from ..stores import open_store

        store = open_store(settings.store_url, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.dashboards.close()
            if owned:
                app.state.store.close()

    app = FastAPI(title="VIGILEOS Analytics API", version=__version__, lifespan=lifespan,
                  description="Equipment metrics, availability, alerts and health, read from the metrics store.")
    app.state.settings = settings
    app.state.store = store
    app.state.analytics = EquipmentAnalyticsService(store, inventory=settings.inventory_path,
                                                    staleness=settings.staleness)
    app.state.recorder = EquipmentMetricsService(store)
    install_handlers(app)
    app.state.dashboards = DashboardSnapshots(settings)
    app.add_middleware(DashboardFastPath, snapshots=app.state.dashboards, settings=settings)
    if settings.api_cors_origins:
        cors: dict[str, Any] = {"allow_origins": list(settings.api_cors_origins), "allow_methods": ["GET", "POST"],
                                "allow_headers": ["Authorization", "Content-Type"]}
        app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    from .read import router as read_router
    from .sla import router as sla_router

    app.include_router(read_router)
    app.include_router(sla_router)

    from .live import LiveHub
    from .live import router as live_router
    from .writes import router as writes_router

    app.state.live = LiveHub(app.state.analytics, app.state.dashboards)
    app.include_router(writes_router)
    app.include_router(live_router)
    return app


def app_from_settings() -> FastAPI:
    """:func:`create_app` with the configured settings (``uvicorn --factory`` target)."""
    return create_app()

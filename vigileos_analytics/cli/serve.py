"""``vigileos serve``: the HTTP API on uvicorn.

The API is built with FastAPI because it generates the OpenAPI schema (``/openapi.json``)
and its docs (``/docs``) from the typed pydantic response models of
:mod:`vigileos_analytics.api.models`, so the published contract is the code's.
"""

from __future__ import annotations

from dataclasses import replace

import click

from .common import AppContext, console, handle_errors, pass_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any other than loopback needs VIGILEOS_API_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@pass_app
@handle_errors
def serve(app: AppContext, host: str, port: int) -> None:
    """Serve the HTTP API (metrics, dashboard, availability, alerts, health) until Ctrl-C.

    Reads need the bearer token VIGILEOS_API_TOKEN when it is set (open otherwise, on
    loopback only). OpenAPI schema at /openapi.json, docs at /docs.
    """
    from ..errors import ConfigurationError
    from ..urloptions import is_loopback

    settings = replace(app.settings, store_url=app.store_url)
    if not settings.api_token and not is_loopback(host):
        raise ConfigurationError(f"Refusing to serve on {host} without VIGILEOS_API_TOKEN: "
                                 "set it, or listen on 127.0.0.1.")
    import uvicorn

    from ..api.app import create_app

    api = create_app(settings)
    console.print(f"VIGILEOS API on http://{host}:{port} (docs at /docs). Press Ctrl-C to stop.", highlight=False)
    uvicorn.run(api, host=host, port=port, log_level="info", server_header=False)

"""``vigileos dashboard``: serve the fleet overview and equipment detail with Voila."""

from __future__ import annotations

import os
import webbrowser
from dataclasses import replace
from pathlib import Path

import click

from .common import AppContext, console, handle_errors, pass_app, wait_for_stop


@click.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 serves every interface (e.g. inside a container) and needs "
                   "VIGILEOS_DASHBOARD_TOKEN.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port",
              help="Port to serve the dashboards on.")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option("--notebooks", "notebooks_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder holding fleet_overview.ipynb and equipment_detail.ipynb "
                                 "(default: VIGILEOS_DASHBOARDS_DIR, else the dashboards that come with the package).")
@pass_app
@handle_errors
def dashboard(app: AppContext, host: str, port: int, no_browser: bool, notebooks_dir: Path | None) -> None:
    """Serve the Voila dashboards until Ctrl-C or SIGTERM.

    Kernels are preheated (a page opens without waiting for imports); at most
    VIGILEOS_DASHBOARD_MAX_KERNELS pages are served at once, and a page's kernel with no
    browser connected is shut down after VIGILEOS_DASHBOARD_UNCONNECTED_TIMEOUT seconds.
    An address other than loopback needs VIGILEOS_DASHBOARD_TOKEN. The store is the one
    given by --store / VIGILEOS_STORE_URL; relative paths are resolved against the current folder.
    """
    from ..dashboards.server import absolute_store_env, local_address, start_dashboard_server
    from ..templates import dashboards_dir

    settings = replace(app.settings, store_url=app.store_url)
    env = {**os.environ, **absolute_store_env(settings, Path.cwd())}
    with console.status("Starting Voila (warming up the dashboards' kernels)..."):
        server = start_dashboard_server(port=port or None, host=host, notebooks_dir=notebooks_dir or
                                        dashboards_dir(settings), env=env)
    try:
        listening = f"Listening on {host}:{server.port}\n" if local_address(host) != host else ""
        console.print(f"{listening}Fleet overview:   {server.overview_url}\nEquipment detail: {server.detail_url}\n"
                      f"Store: {env['VIGILEOS_STORE_URL']}\nPress Ctrl-C to stop.", highlight=False)
        if not no_browser:
            webbrowser.open(server.overview_url)
        wait_for_stop(server)
    finally:
        code = server.stop()
    console.print(f"Dashboards stopped (voila exit code {code}).")

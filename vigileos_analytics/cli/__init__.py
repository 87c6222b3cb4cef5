"""The ``vigileos`` command line: a thin layer over the library.

Each command parses its arguments, calls one library function and prints the
result; exit codes are documented in :mod:`vigileos_analytics.cli.common`.

Command modules import only the standard library, click and :mod:`.common` at the
top, and the library inside each command: ``vigileos --help`` and the light
commands start without pandas, scikit-learn or the report stack
(``tests/test_cli_startup.py``, ``bench/bench_cli.py``).
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
from .common import AppContext, handle_errors, install_log_output

# Modules that each define click commands named in the tuple beside them.
_COMMANDS = (
    (".simulate", ("simulate",)),
    (".data", ("record", "import_csv", "metrics")),
    (".analysis", ("availability", "stats", "summary")),
    (".admin", ("check", "config")),
    (".report", ("report",)),
    (".dashboard", ("dashboard",)),
    (".lab", ("lab",)),
    (".serve", ("serve",)),
    (".templates", ("templates",)),
    (".collect", ("collect",)),
    (".lifecycle", ("backup", "restore", "export", "cleanup", "retention", "optimize", "maintain")),
    (".alerts", ("alerts",)),
    (".predict", ("predict",)),
    (".sla", ("sla",)),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", "store_url", metavar="URL",
              help="Store URL (default: VIGILEOS_STORE_URL, else duckdb:///data/metrics.duckdb).")
@click.version_option(__version__, prog_name="vigileos")
@click.pass_context
@handle_errors  # a malformed setting is a one-line error here, before any command runs
def main(ctx: click.Context, store_url: str | None) -> None:
    """VIGILEOS Analytics: equipment availability, performance, reports and dashboards.

    \b
    Exit codes: 0 ok, 1 internal error, 2 usage error, 3 invalid input,
    4 configuration error, 5 store unreachable or failed, 6 report failed,
    7 dashboard or JupyterLab server could not start, 8 some alert rules or equipment
    could not be evaluated (the others were).
    """
    install_log_output()
    ctx.obj = AppContext(store_url)


def _attach_commands() -> None:
    # Every module is part of the package: one that fails to import is a broken install, said at once.
    for module_name, names in _COMMANDS:
        module = importlib.import_module(module_name, __name__)
        for name in names:
            main.add_command(getattr(module, name))


_attach_commands()

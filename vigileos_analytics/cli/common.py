"""What every command shares: the context (settings, store), option types, output
(rich tables or ``--json``) and the mapping of errors to exit codes.

Exit codes:

==  =====================================================================
0   success
1   unexpected internal error (a bug: please report it with the traceback
    shown by ``VIGILEOS_DEBUG=1``)
2   usage error: bad option or argument (click's own code)
3   invalid input: a value, file or parameter failed validation
4   configuration error: a setting or store URL is wrong
5   the store cannot be reached, is busy, or a read or write failed
6   a report failed
7   the dashboard or JupyterLab server could not start
8   partly done: some alert rules or equipment could not be evaluated (each
    one is listed; the others were evaluated and recorded)
==  =====================================================================

Every line a command prints goes through :data:`console` / :data:`error_console`
(tables and ``say`` texts too), which print text as it is: stored ids, tags and
paths are never read as rich markup, control characters show as ``\\x1b``-style
escapes (stored text cannot restyle the terminal) and URL credentials as ``***``.
Styling is opt-in, on :class:`rich.text.Text` built by :func:`styled`.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

# Only light modules at the top: every command, and every --help, imports this one.
# pandas, rich and the stores are imported where they are used (pandas alone costs 0.5 s).
from ..config import Settings, load_settings, mask_url, read_setting
from ..errors import ConfigurationError, DashboardServerError, ReportError, StoreError, ValidationError, VigileosError
from ..timeparse import parse_duration, parse_time_text

if TYPE_CHECKING:
    import pandas as pd

    from ..stores.base import MetricsStore

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INVALID, EXIT_CONFIG, EXIT_STORE, EXIT_REPORT, EXIT_DASHBOARD = range(8)
EXIT_PARTIAL = 8


# C0 and C1 control characters but tab and newline: ESC, CSI (0x9b), CR, BEL... would let stored text
# move the cursor, rewrite the line or restyle the terminal.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# JSON escapes C0 itself; DEL and C1 it leaves raw (with ensure_ascii=False).
_JSON_RAW_CONTROL_RE = re.compile("[\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` as a terminal may show it: control characters as ``\\x1b``-style escapes,
    the user name and password of URLs as ``***``."""
    return mask_url(_CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def styled(*parts: str | tuple[str, str]) -> Any:
    """A rich ``Text`` of ``parts``: plain strings, or (text, style) pairs such as
    ("Error:", "bold red"); each part's text is made terminal-safe, never read as markup."""
    from rich.text import Text

    return Text.assemble(*(terminal_safe(p) if isinstance(p, str) else (terminal_safe(p[0]), p[1]) for p in parts))


class LazyConsole:
    """A rich Console made on first use, with these arguments, that prints text as it is.

    Strings are never read as markup or emoji codes and pass through :func:`terminal_safe`,
    so a stored id cannot break or restyle the output; ``markup=True`` is ignored: style
    with :func:`styled` instead."""

    def __init__(self, **options: Any) -> None:
        self._options = {"markup": False, "emoji": False, **options}
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)

    def print(self, *objects: Any, **options: Any) -> None:
        options.pop("markup", None)
        self.__getattr__("print")(*(terminal_safe(o) if isinstance(o, str) else o for o in objects), **options)


# Tables stay readable when output goes to a file or pipe (rich would assume 80 columns).
console = LazyConsole(width=None if sys.stdout.isatty() else 120)
error_console = LazyConsole(stderr=True)


class _TerminalSafeStderr(logging.Handler):
    """Log records as lines on the stderr of the moment (a test runner swaps it), terminal-safe."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(terminal_safe(self.format(record)) + "\n")
        except Exception:  # logging must never break the command
            self.handleError(record)


def install_log_output() -> None:
    """Make Python's last-resort handler (warnings on stderr when logging is not set up)
    terminal-safe; a process that configures logging keeps its own handlers."""
    if not isinstance(logging.lastResort, _TerminalSafeStderr):
        logging.lastResort = _TerminalSafeStderr(logging.WARNING)


class AppContext:
    """Lazily opened settings and store, shared by a command's callbacks."""

    def __init__(self, store_url: str | None, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.store_url = store_url or self.settings.store_url
        self._store: MetricsStore | None = None

    @property
    def store(self) -> MetricsStore:
        if self._store is None:
            from ..stores import open_store

            self._store = open_store(self.store_url, self.settings)
        return self._store

    def analytics(self):
        from ..analytics.service import EquipmentAnalyticsService

        return EquipmentAnalyticsService(self.store, inventory=self.settings.inventory_path,
                                         staleness=self.settings.staleness)


pass_app = click.make_pass_decorator(AppContext)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, ValidationError):
        return EXIT_INVALID
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, StoreError):
        return EXIT_STORE
    if isinstance(exc, ReportError):
        return EXIT_REPORT
    if isinstance(exc, DashboardServerError):
        return EXIT_DASHBOARD
    return EXIT_INTERNAL


def _debugging() -> bool:
    """The ``debug`` setting; a malformed value (said at startup) counts as off here."""
    try:
        return bool(read_setting("debug"))
    except ConfigurationError:
        return False


def handle_errors(func: Callable) -> Callable:
    """Turn package errors into one-line messages and documented exit codes."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VigileosError as exc:
            error_console.print(styled(("Error:", "bold red"), f" {exc}"), highlight=False, soft_wrap=True)
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            error_console.print("Interrupted.")
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line unless debugging
            if _debugging():
                raise
            error_console.print(styled(("Internal error:", "bold red"), f" {type(exc).__name__}: {exc} "
                                       "(set VIGILEOS_DEBUG=1 for the traceback)"), highlight=False)
            sys.exit(EXIT_INTERNAL)
    return wrapper


class TimeParam(click.ParamType):
    """A time such as 2024-01-31, 2024-01-31T12:00+01:00, now or now-7d (no offset: UTC)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time_text(value, field=param.name if param else "time")
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


class DurationParam(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return parse_duration(value, param.name if param else "duration")
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()
DURATION = DurationParam()


def period_options(default_start: str = "now-24h") -> Callable:
    def decorate(func: Callable) -> Callable:
        func = click.option("--end", "end", type=TIME, default="now", show_default=True,
                            help="End of the period (exclusive). Text without an offset is UTC.")(func)
        func = click.option("--start", "start", type=TIME, default=default_start, show_default=True,
                            help="Start of the period, e.g. 2024-01-01, 2024-01-01T08:00+01:00, now-7d.")(func)
        return func
    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (for scripts).")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # pandas' Timestamp too
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def emit_json(data: Any) -> None:
    pandas = sys.modules.get("pandas")  # a frame or Timestamp means pandas is loaded: never import it for them
    if pandas is not None and isinstance(data, pandas.DataFrame):
        data = [{k: _plain(v) for k, v in row.items()} for row in data.to_dict(orient="records")]
    text = json.dumps(data, default=_plain, indent=2, ensure_ascii=False)
    click.echo(_JSON_RAW_CONTROL_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def format_cell(value: Any) -> str:
    pandas = sys.modules.get("pandas")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if pandas is not None and isinstance(value, pandas.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return terminal_safe(", ".join(f"{k}={v}" for k, v in value.items()))
    return terminal_safe(str(value))


def say(key: str, **fields: Any) -> str:
    """The text ``key`` (``cli.…``) of the message catalogue, filled with ``fields``; in
    English, as there is no language setting. Imported on use: ``--help`` skips yaml."""
    from ..i18n import Translator

    return Translator().t(key, **fields)


def emit_table(frame: pd.DataFrame | list[dict[str, Any]], title: str | None = None, limit: int | None = None) -> None:
    """Print ``frame`` as a table (a titled table without rows as one line); a list of
    rows (dicts with the same keys) needs no pandas."""
    from rich.table import Table

    if title and len(frame) == 0:
        console.print(say("cli.none", title=title), highlight=False, soft_wrap=True)
        return
    if isinstance(frame, list):
        columns = list(frame[0]) if frame else []
        numeric = [all(isinstance(row[c], (int, float)) and not isinstance(row[c], bool) for row in frame)
                   for c in columns]
        rows = [tuple(row[c] for c in columns) for row in frame]
    else:
        import pandas as pd

        columns = list(frame.columns)
        numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in columns]
        rows = frame.itertuples(index=False, name=None)
    table = Table(title=terminal_safe(title) if title else None, show_lines=False, header_style="bold")
    for column, is_numeric in zip(columns, numeric, strict=True):
        table.add_column(terminal_safe(str(column)), justify="right" if is_numeric else "left")
    for row in itertools.islice(rows, limit):
        table.add_row(*(format_cell(v) for v in row))
    console.print(table)
    if limit is not None and len(frame) > limit:
        console.print(say("cli.more_rows", count=len(frame) - limit))


def wait_for_stop(server: Any) -> None:
    """Block until Ctrl-C / SIGTERM, or until the child server (``server.running``) exits
    by itself; the caller stops it then."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5) and server.running:
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

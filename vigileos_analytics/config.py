"""Settings, in one place: read from the environment and a ``.env`` file.

The fields of :class:`Settings` are the single table of settings: each names its
environment variable, default (as text, as it would be written in the environment),
meaning and parser, once. ``SETTINGS`` lists them as :class:`SettingSpec` rows; the
README's settings table and ``vigileos config`` are checked against it by the tests.
No module reads a setting's variable itself: it calls :func:`load_settings`, or
:func:`read_setting` for one setting. Secrets are held in :class:`Secret`, whose
``repr`` and ``str`` never show the value.

A blank variable means the default. A value its parser refuses is a
:class:`~vigileos_analytics.errors.ConfigurationError` naming the variable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, ValidationError
from .timeparse import parse_duration

DEFAULT_STORE_URL = "duckdb:///data/metrics.duckdb"
#: Shortest auto-refresh interval of a dashboard page (seconds); 0 turns it off.
MIN_REFRESH_S = 1.0
#: Shortest heartbeat grace of a dashboard page (seconds): a beat every second, three missed.
MIN_GRACE_S = 3.0


# scheme://USERINFO@ up to the last '@' before the path: a password may hold an unescaped '@'.
_URL_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")


def mask_url(text: str) -> str:
    """``text`` (a URL, or a message holding URLs) with the user name and password of
    each URL shown as ``***``: ``http://admin:pw@host`` -> ``http://***@host``. Every
    place that shows a URL (``vigileos config``, ``check``, errors, pages) uses this."""
    return _URL_USERINFO_RE.sub(r"\g<scheme>***@", text)


def refuse_url_credentials(url: str) -> None:
    """Raise ``ConfigurationError`` when the store URL ``url`` holds a user name or password:
    InfluxDB credentials live in settings (never shown), not in a URL."""
    if _URL_USERINFO_RE.search(url):
        raise ConfigurationError(
            f"The store URL {mask_url(url)} holds a user name or password (from VIGILEOS_STORE_URL, --store or "
            "INFLUXDB_URL). Credentials go in settings, not in the store URL: INFLUXDB_USERNAME and INFLUXDB_PASSWORD "
            "for InfluxDB 1.x (influxdb1+ URLs), INFLUXDB_TOKEN for InfluxDB 2 and 3.")


class Secret:
    """A secret string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# -- parsers: (text, variable name) -> value; ValidationError naming the variable --------

Parser = Callable[[str, str], Any]


def _text(text: str, name: str) -> str:
    return text


def _path(text: str, name: str) -> Path:
    return Path(text)


def _duration(text: str, name: str) -> timedelta:
    return parse_duration(text, name)


def _names(text: str, name: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _secret(text: str, name: str) -> Secret:
    return Secret(text)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(text: str, name: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE + _FALSE:
        raise ValidationError(f"{name} must be one of {', '.join(_TRUE + _FALSE)}; got {text!r}.",
                              field=name, value=text)
    return word in _TRUE


def _seconds(minimum: float, *, off: bool = False) -> Parser:
    """A parser of a finite number of seconds of at least ``minimum`` (or 0 when ``off``)."""
    expected = f"at least {minimum:g} second{'' if minimum == 1 else 's'}"
    expected = f"0 (off) or {expected}" if off else expected

    def parse(text: str, name: str) -> float:
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and (seconds >= minimum or (off and seconds == 0))):
            raise ValidationError(f"{name} must be {expected}; got {text!r}.", field=name, value=text)
        return seconds

    return parse


def _count(minimum: int) -> Parser:
    """A parser of a whole number of at least ``minimum``."""

    def parse(text: str, name: str) -> int:
        try:
            count = int(text)
        except ValueError:
            count = minimum - 1
        if count < minimum:
            raise ValidationError(f"{name} must be a whole number of at least {minimum}; got {text!r}.",
                                  field=name, value=text)
        return count

    return parse


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingSpec:
    """One row of the settings table: ``name`` is the :class:`Settings` field."""

    name: str
    env: str
    default: str
    help: str
    parse: Parser = _text
    secret: bool = False

    def read(self, values: Mapping[str, str]) -> Any:
        """This setting's value in ``values`` (variables by name; blank: the default), parsed."""
        text = values.get(self.env, "")
        if not text.strip():
            text = self.default
        try:
            return self.parse(text, self.env)
        except ValidationError as exc:
            raise ConfigurationError(str(exc)) from exc


def setting(env: str, default: str, help: str, parse: Parser = _text, *, secret: bool = False) -> Any:
    """A :class:`Settings` field read from ``env``; its default is ``parse(default)``."""
    row = {"env": env, "default": default, "help": help, "parse": parse, "secret": secret}
    return field(default_factory=lambda: parse(default, env), metadata={"setting": row})


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`; override with keywords (typed values)."""

    store_url: str = setting(
        "VIGILEOS_STORE_URL", "",
        "Where metrics live: duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
        "influxdb2+http://host:8086 or influxdb1+http://host:8086. Empty: INFLUXDB_URL if set "
        f"(as InfluxDB 2), else {DEFAULT_STORE_URL}.")
    inventory_path: Path = setting(
        "VIGILEOS_INVENTORY", "data/inventory.csv",
        "Equipment inventory CSV (equipment_id, name, type, location, ...).", _path)
    staleness: timedelta = setting(
        "VIGILEOS_STALENESS", "10m",
        "How long an availability sample stays valid without a newer one; older time is 'unknown'.", _duration)
    lock_timeout: timedelta = setting(
        "VIGILEOS_LOCK_TIMEOUT", "60s",
        "How long a process waits for the embedded store's lock before giving up.", _duration)
    spool_dir: Path = setting(
        "VIGILEOS_SPOOL_DIR", "data/spool",
        "Where InfluxDB writes wait, on disk, while the server is unreachable.", _path)
    extra_statuses: tuple[str, ...] = setting(
        "VIGILEOS_EXTRA_STATUSES", "",
        "Comma-separated statuses accepted beside operational, maintenance, offline.", _names)
    dashboard_refresh: float = setting(
        "VIGILEOS_DASHBOARD_REFRESH", "30",
        f"Default auto-refresh interval of the dashboards, in seconds (0: off; else at least {MIN_REFRESH_S:g}).",
        _seconds(MIN_REFRESH_S, off=True))
    # Chromium wakes the timers of a tab hidden for 5 minutes only once a minute:
    # three such wake-ups may pass before a page counts as gone.
    dashboard_heartbeat_grace: float = setting(
        "VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "180",
        "Seconds without a heartbeat from a dashboard page before its auto-refresh pauses (page closed); "
        f"at least {MIN_GRACE_S:g}.", _seconds(MIN_GRACE_S))
    dashboard_max_kernels: int = setting(
        "VIGILEOS_DASHBOARD_MAX_KERNELS", "8",
        "Dashboard pages served at once (one kernel of about 300 MB each; one preheated kernel per page "
        "waits on top); a request beyond gets HTTP 503.", _count(1))
    dashboard_unconnected_timeout: float = setting(
        "VIGILEOS_DASHBOARD_UNCONNECTED_TIMEOUT", "60",
        "Seconds a dashboard page's kernel lives with no browser connected (a closed tab, a bare HTTP request) "
        "before it is shut down; at least 1.", _seconds(1.0))
    dashboard_token: Secret = setting(
        "VIGILEOS_DASHBOARD_TOKEN", "",
        "Token the dashboards ask for (?token=..., then a cookie); required to listen on an address other than "
        "loopback.", _secret, secret=True)
    reports_dir: str = setting(
        "VIGILEOS_REPORTS_DIR", "",
        "Folder of the report notebooks (default: the ones that come with the package; "
        "`vigileos templates copy DIR` makes editable copies).")
    dashboards_dir: str = setting(
        "VIGILEOS_DASHBOARDS_DIR", "",
        "Folder of the dashboard notebooks (default: the ones that come with the package).")
    alert_rules: str = setting(
        "VIGILEOS_ALERT_RULES", "",
        "Alert rules file (default: the rules that come with the package, parameters/alert_rules.yaml).")
    slas: str = setting(
        "VIGILEOS_SLAS", "",
        "SLA definition file (default: the example that comes with the package, parameters/slas.yaml).")
    chromium: str = setting(
        "VIGILEOS_CHROMIUM", "",
        "Chromium that prints report PDFs (default: chromium, chromium-browser or google-chrome on PATH).")
    debug: bool = setting(
        "VIGILEOS_DEBUG", "0",
        "1: the command line shows the traceback of an internal error instead of a one-line message.", _flag)
    influxdb_url: str = setting("INFLUXDB_URL", "", "InfluxDB server URL (seed variable).")
    influxdb_token: Secret = setting("INFLUXDB_TOKEN", "", "InfluxDB API token.", _secret, secret=True)
    influxdb_org: str = setting("INFLUXDB_ORG", "", "InfluxDB 2 organisation.")
    influxdb_bucket: str = setting(
        "INFLUXDB_BUCKET", "equipment_metrics", "InfluxDB 2 bucket, or InfluxDB 1.x / 3.x database.")
    influxdb_username: str = setting("INFLUXDB_USERNAME", "", "InfluxDB user name.")
    influxdb_password: Secret = setting("INFLUXDB_PASSWORD", "", "InfluxDB password.", _secret, secret=True)
    api_token: Secret = setting(
        "VIGILEOS_API_TOKEN", "",
        "Bearer token of the HTTP API's reads (vigileos serve); empty: reads are open, on a loopback address only.",
        _secret, secret=True)
    api_write_token: Secret = setting(
        "VIGILEOS_API_WRITE_TOKEN", "",
        "Bearer token of the HTTP API's writes (also accepted for reads); empty: no writes.", _secret, secret=True)
    api_cors_origins: tuple[str, ...] = setting(
        "VIGILEOS_API_CORS_ORIGINS", "",
        "Comma-separated origins the HTTP API allows cross-origin requests from (empty: CORS off).", _names)

    def __post_init__(self) -> None:
        if not self.store_url:  # the seed's InfluxDB when it names one, else the embedded store
            url = f"influxdb2+{self.influxdb_url}" if self.influxdb_url else DEFAULT_STORE_URL
            object.__setattr__(self, "store_url", url)

    def public_items(self) -> dict[str, str]:
        """Every setting as text, with secrets and URL credentials masked: safe to print."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[f.name] = "********" if value else ""
            elif isinstance(value, tuple):
                out[f.name] = ",".join(value)
            elif isinstance(value, bool):
                out[f.name] = "1" if value else "0"
            elif isinstance(value, float):
                out[f.name] = f"{value:g}"
            else:
                out[f.name] = mask_url(str(value))
        return out


SETTINGS: tuple[SettingSpec, ...] = tuple(SettingSpec(f.name, **f.metadata["setting"]) for f in fields(Settings))
_BY_NAME = {spec.name: spec for spec in SETTINGS}


def setting_spec(name: str) -> SettingSpec:
    """The row of setting ``name`` (a :class:`Settings` field name)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"There is no setting {name!r}; the settings are {', '.join(_BY_NAME)}.") from None


def setting_default(name: str) -> Any:
    """The default value of setting ``name``, parsed (e.g. 180.0 for ``dashboard_heartbeat_grace``)."""
    spec = setting_spec(name)
    return spec.parse(spec.default, spec.env)


def read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _values(environ: Mapping[str, str] | None, dotenv_path: Path | str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if dotenv_path is not None:
        values.update(read_dotenv(Path(dotenv_path)))
    values.update(os.environ if environ is None else environ)
    return values


def read_setting(name: str, environ: Mapping[str, str] | None = None,
                 dotenv_path: Path | str | None = ".env") -> Any:
    """One setting, read as :func:`load_settings` reads it; ConfigurationError when malformed."""
    return setting_spec(name).read(_values(environ, dotenv_path))


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | str | None = ".env", **overrides: Any
) -> Settings:
    """Settings from ``.env`` (if present), then the environment, then ``overrides``."""
    values = _values(environ, dotenv_path)
    parsed = {spec.name: spec.read(values) for spec in SETTINGS if spec.name not in overrides}
    return Settings(**parsed, **overrides)

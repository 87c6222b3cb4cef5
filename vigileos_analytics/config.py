"""Settings, in one place: read from the environment and a ``.env`` file.

``SETTINGS`` is the single table of every setting; the README's settings table and
``vigileos config`` are checked against it by the tests. Secrets are held in
:class:`Secret`, whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigurationError, ValidationError
from .timeparse import parse_duration


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


@dataclass(frozen=True)
class SettingSpec:
    name: str
    env: str
    default: str
    help: str
    secret: bool = False


DEFAULT_STORE_URL = "duckdb:///data/metrics.duckdb"

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("store_url", "VIGILEOS_STORE_URL", "",
                "Where metrics live: duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
                "influxdb2+http://host:8086 or influxdb1+http://host:8086. Empty: INFLUXDB_URL if set "
                f"(as InfluxDB 2), else {DEFAULT_STORE_URL}."),
    SettingSpec("inventory_path", "VIGILEOS_INVENTORY", "data/inventory.csv",
                "Equipment inventory CSV (equipment_id, name, type, location, ...)."),
    SettingSpec("staleness", "VIGILEOS_STALENESS", "10m",
                "How long an availability sample stays valid without a newer one; older time is 'unknown'."),
    SettingSpec("lock_timeout", "VIGILEOS_LOCK_TIMEOUT", "60s",
                "How long a process waits for the embedded store's lock before giving up."),
    SettingSpec("spool_dir", "VIGILEOS_SPOOL_DIR", "data/spool",
                "Where InfluxDB writes wait, on disk, while the server is unreachable."),
    SettingSpec("extra_statuses", "VIGILEOS_EXTRA_STATUSES", "",
                "Comma-separated statuses accepted beside operational, maintenance, offline."),
    SettingSpec("dashboard_refresh", "VIGILEOS_DASHBOARD_REFRESH", "30",
                "Default auto-refresh interval of the dashboards, in seconds (0: off)."),
    SettingSpec("dashboard_heartbeat_grace", "VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "180",
                "Seconds without a heartbeat from a dashboard page before its auto-refresh pauses (page closed)."),
    SettingSpec("reports_dir", "VIGILEOS_REPORTS_DIR", "",
                "Folder of the report notebooks (default: the ones that come with the package; "
                "`vigileos templates copy DIR` makes editable copies)."),
    SettingSpec("dashboards_dir", "VIGILEOS_DASHBOARDS_DIR", "",
                "Folder of the dashboard notebooks (default: the ones that come with the package)."),
    SettingSpec("alert_rules", "VIGILEOS_ALERT_RULES", "",
                "Alert rules file (default: the rules that come with the package, parameters/alert_rules.yaml)."),
    SettingSpec("chromium", "VIGILEOS_CHROMIUM", "",
                "Chromium that prints report PDFs (default: chromium, chromium-browser or google-chrome on PATH)."),
    SettingSpec("influxdb_url", "INFLUXDB_URL", "", "InfluxDB server URL (seed variable)."),
    SettingSpec("influxdb_token", "INFLUXDB_TOKEN", "", "InfluxDB API token.", secret=True),
    SettingSpec("influxdb_org", "INFLUXDB_ORG", "", "InfluxDB 2 organisation."),
    SettingSpec("influxdb_bucket", "INFLUXDB_BUCKET", "equipment_metrics",
                "InfluxDB 2 bucket, or InfluxDB 1.x / 3.x database."),
    SettingSpec("influxdb_username", "INFLUXDB_USERNAME", "", "InfluxDB user name."),
    SettingSpec("influxdb_password", "INFLUXDB_PASSWORD", "", "InfluxDB password.", secret=True),
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`; override with keywords."""

    store_url: str = DEFAULT_STORE_URL
    inventory_path: Path = Path("data/inventory.csv")
    staleness: timedelta = timedelta(minutes=10)
    lock_timeout: timedelta = timedelta(seconds=60)
    spool_dir: Path = Path("data/spool")
    extra_statuses: tuple[str, ...] = ()
    dashboard_refresh: str = "30"
    dashboard_heartbeat_grace: str = "180"
    reports_dir: str = ""
    dashboards_dir: str = ""
    alert_rules: str = ""
    chromium: str = ""
    influxdb_url: str = ""
    influxdb_token: Secret = field(default_factory=lambda: Secret(""))
    influxdb_org: str = ""
    influxdb_bucket: str = "equipment_metrics"
    influxdb_username: str = ""
    influxdb_password: Secret = field(default_factory=lambda: Secret(""))

    def public_items(self) -> dict[str, str]:
        """Every setting as text, with secrets masked: safe to print."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[f.name] = "********" if value else ""
            elif isinstance(value, tuple):
                out[f.name] = ",".join(value)
            else:
                out[f.name] = str(value)
        return out


def read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | str | None = ".env", **overrides: Any
) -> Settings:
    """Settings from ``.env`` (if present), then the environment, then ``overrides``."""
    values: dict[str, str] = {}
    if dotenv_path is not None:
        values.update(read_dotenv(Path(dotenv_path)))
    values.update(os.environ if environ is None else environ)

    raw = {spec.name: values.get(spec.env, spec.default) for spec in SETTINGS}
    try:
        kwargs: dict[str, Any] = {
            "inventory_path": Path(raw["inventory_path"]),
            "spool_dir": Path(raw["spool_dir"]),
            "staleness": parse_duration(raw["staleness"], "VIGILEOS_STALENESS"),
            "lock_timeout": parse_duration(raw["lock_timeout"], "VIGILEOS_LOCK_TIMEOUT"),
            "extra_statuses": tuple(s.strip() for s in raw["extra_statuses"].split(",") if s.strip()),
            "influxdb_token": Secret(raw["influxdb_token"]),
            "influxdb_password": Secret(raw["influxdb_password"]),
        }
    except ValidationError as exc:
        raise ConfigurationError(str(exc)) from exc
    for name in ("influxdb_url", "influxdb_org", "influxdb_bucket", "influxdb_username", "dashboard_refresh",
                 "dashboard_heartbeat_grace", "reports_dir", "dashboards_dir", "alert_rules", "chromium"):
        kwargs[name] = raw[name]
    store_url = raw["store_url"]
    if not store_url:
        store_url = f"influxdb2+{raw['influxdb_url']}" if raw["influxdb_url"] else DEFAULT_STORE_URL
    kwargs["store_url"] = store_url
    kwargs.update(overrides)
    return Settings(**kwargs)

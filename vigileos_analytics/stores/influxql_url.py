"""Opening an InfluxQL store from its URL (``influxdb1+`` and ``influxdb3+`` schemes).

The database defaults to ``INFLUXDB_BUCKET``. Credentials never go in the URL:
``INFLUXDB_USERNAME`` / ``INFLUXDB_PASSWORD`` (HTTP basic auth) or
``INFLUXDB_TOKEN`` (``Authorization: Token ...``, InfluxDB 2.x and 3). One of them
is sent, never both: on ``influxdb1+`` URLs a set ``INFLUXDB_USERNAME`` wins (InfluxDB
1.x knows users, not tokens), else the token; on ``influxdb3+`` URLs the token wins.
Options:

=================== ========= ==========================================================
option              default   meaning
=================== ========= ==========================================================
create_database     false     create the database (and retention policy) if missing
retention_policy    (none)    retention policy to write to and read from
retention           (none)    with create_database: the policy's duration (e.g. 30d)
timeout             10s       connect and read timeout of every request
verify              true      verify TLS certificates (false, or a CA bundle path)
gzip                true      gzip write bodies
batch_size          10000     points per write request
spool               (auto)    folder of the outage spool; ``off`` disables it
spool_max           1GiB      spool size limit (bytes; KiB/MiB/GiB suffixes)
=================== ========= ==========================================================
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Secret, Settings, mask_url, refuse_url_credentials
from ..errors import ConfigurationError, ValidationError
from ..timeparse import parse_duration
from ..urloptions import read_url_options
from .influxql import InfluxQLStore
from .influxql_http import InfluxHttp
from .spool import DEFAULT_MAX_BYTES, Spool, parse_size

_OPTIONS = {"create_database", "retention_policy", "retention", "timeout", "verify", "gzip", "batch_size", "spool",
            "spool_max"}


def open_influxql_store(url: str, settings: Settings) -> InfluxQLStore:
    """Open ``influxdb1+http(s)://`` and ``influxdb3+http(s)://`` URLs (see the module docstring)."""
    parts = urlsplit(url)
    refuse_url_credentials(url)
    if not parts.hostname:
        raise ConfigurationError(f"The store URL {parts.scheme}://... names no host; e.g. "
                                 f"{parts.scheme}://localhost:8086/metrics.")
    query = read_url_options(parts.query, _OPTIONS, source="the store URL").raise_problems()
    database = parts.path.strip("/") or settings.influxdb_bucket
    base_url = f"{parts.scheme.split('+', 1)[1]}://{parts.netloc}"
    verify = query.flag_or_text("verify", True)
    try:
        timeout = parse_duration(query.get("timeout", "10s"), "timeout")
        retention = parse_duration(text, "retention") if (text := query.get("retention")) else None
        batch_size = int(query.get("batch_size", "10000"))
    except (ValidationError, ValueError) as exc:
        raise ConfigurationError(f"Bad option in the store URL {mask_url(url)!r}: {exc}") from exc
    username, token = _credentials(parts.scheme, settings)
    http = InfluxHttp(base_url, username=username, password=settings.influxdb_password,
                      token=token, timeout_s=timeout.total_seconds(), verify=verify,
                      gzip=query.flag("gzip", True))
    spool_text = query.get("spool", "")
    spool = None
    if spool_text.lower() != "off":
        folder = Path(spool_text) if spool_text else settings.spool_dir / re.sub(
            r"[^A-Za-z0-9_.-]", "_", f"{parts.hostname}_{parts.port or ''}_{database}")
        max_text = query.get("spool_max")
        spool = Spool(folder, max_bytes=parse_size(max_text) if max_text else DEFAULT_MAX_BYTES)
    return InfluxQLStore(http, database, retention_policy=query.get("retention_policy", ""),
                         batch_size=batch_size, spool=spool, create_database=query.flag("create_database", False),
                         retention=retention)


def _credentials(scheme: str, settings: Settings) -> tuple[str, Secret | None]:
    """(user name, token): the one credential to send (see the module docstring)."""
    username, token = settings.influxdb_username, settings.influxdb_token
    if username and token:
        return (username, None) if scheme.startswith("influxdb1+") else ("", token)
    return username, token or None

"""Store failures turned into a kind of problem and one line saying what to do.

``vigileos check`` meets failures in three shapes: exceptions raised by a store
(whose cause may be a driver exception carrying an HTTP status and body), the
text of a failed :class:`~vigileos_analytics.stores.base.Health`, and HTTP
answers of InfluxDB 1.x, 2.x or 3. :func:`diagnose` reads any of them and gives a
:class:`Diagnosis`: a ``problem`` kind (one of :data:`PROBLEMS`) and a message of
one line that says what was expected, what came and what to do.

InfluxDB 2.x cannot run on the machines that test this package, so the 2.x
answers known here (``{"code": "unauthorized", "message": "unauthorized
access"}``, ``organization name "x" not found``, ``bucket "x" not found``, ...)
are covered by unit tests of :func:`diagnose_http`, not by a live server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..errors import StoreBusyError

#: Every problem kind a diagnosis can name.
PROBLEMS = ("unreachable", "timeout", "unauthorized", "forbidden", "wrong_org", "missing_bucket", "missing_database",
            "missing_dbrp", "wrong_api", "server_error", "busy", "readback", "failed")

_APIEXCEPTION_RE = re.compile(r"\((\d{3})\)\s*Reason:")
_APIBODY_RE = re.compile(r"HTTP response body: (.*)", re.DOTALL)
_ANSWERED_RE = re.compile(r"answered (\d{3}): (.*)", re.DOTALL)
_QUOTED_RE = re.compile(r'\\?"([^"\\]+)\\?"')


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong (``problem``, one of :data:`PROBLEMS`) and one line about it."""

    problem: str
    message: str


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def body_message(body: str | bytes | None) -> str:
    """The human part of an InfluxDB error body: ``message`` (2.x) or ``error`` (1.x), else the text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = (body or "").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    if isinstance(data, dict):
        return one_line(str(data.get("message") or data.get("error") or text))
    return one_line(text)


def _quoted(text: str) -> str:
    match = _QUOTED_RE.search(text)
    return f" {match.group(1)!r}" if match else ""


def diagnose_http(status: int, body: str | bytes | None, where: str) -> Diagnosis:
    """The problem behind an HTTP error answer of InfluxDB (1.x, 2.x or 3) at ``where``."""
    text = body_message(body)
    low = text.lower()
    said = f"{where} answered {status}" + (f" ({text})" if text else "")
    not_found = "not found" in low or "could not find" in low or "does not exist" in low
    if status == 403 or (status == 401 and " is unauthorized" in low):
        return Diagnosis("forbidden", f"{said}: the credentials are valid but lack a right this needs. Give the "
                                      "token or user read and write access to the bucket or database.")
    if status == 401 or "unauthorized" in low or "authorization failed" in low:
        return Diagnosis("unauthorized", f"{said}: the credentials were refused. Expected a valid INFLUXDB_TOKEN, "
                                         "or INFLUXDB_USERNAME and INFLUXDB_PASSWORD; check them and that they "
                                         "belong to this server.")
    if ("organization" in low or "org " in low) and not_found:
        return Diagnosis("wrong_org", f"{said}: there is no organisation{_quoted(text)} there. Set INFLUXDB_ORG to "
                                      "the name of an existing organisation (`influx org list` shows them).")
    if "dbrp" in low:
        return Diagnosis("missing_dbrp", f"{said}: no DBRP mapping names this database. On InfluxDB 2.x, map the "
                                         "bucket: `influx v1 dbrp create --db NAME --rp autogen --bucket-id ID "
                                         "--default`.")
    if "bucket" in low and not_found:
        return Diagnosis("missing_bucket", f"{said}: the bucket{_quoted(text)} does not exist or the token cannot "
                                           "see it. Create it (`influx bucket create -n NAME`) or set "
                                           "INFLUXDB_BUCKET to an existing bucket.")
    if "database" in low and not_found:
        return Diagnosis("missing_database", f"{said}: the database{_quoted(text)} does not exist. Create it (add "
                                             "?create_database=true to the store URL) or set INFLUXDB_BUCKET to an "
                                             "existing one; on InfluxDB 2.x, map a bucket with "
                                             "`influx v1 dbrp create`.")
    if status == 404:
        return Diagnosis("wrong_api", f"{said}: that API is not there. An influxdb2+ URL needs InfluxDB 2.x; for "
                                      "InfluxDB 1.x or 3 use an influxdb1+http:// or influxdb3+http:// store URL.")
    if status >= 500 or status == 429:
        return Diagnosis("server_error", f"{said}: the server is up but failing. Look at its log; meanwhile writes "
                                         "wait in the spool.")
    return Diagnosis("failed", f"{said}.")


def diagnose_text(text: str, where: str) -> Diagnosis:
    """The problem named by an error message or a failed health check's text."""
    low = text.lower()
    api = _APIEXCEPTION_RE.search(text)
    if api:  # influxdb-client's ApiException, as text
        body = _APIBODY_RE.search(text)
        return diagnose_http(int(api.group(1)), body.group(1) if body else "", where)
    answered = _ANSWERED_RE.search(text)
    if answered:  # the InfluxQL store's "InfluxDB at URL answered 401: ..."
        return diagnose_http(int(answered.group(1)), answered.group(2).split(". Check")[0], where)
    if "connection refused" in low:
        return Diagnosis("unreachable", f"Cannot reach {where} (connection refused). Expected a server listening "
                                        "there: is it running, and are the host and port in the store URL right?")
    if "did not answer within" in low or "timed out" in low:
        return Diagnosis("timeout", f"{where} did not answer in time. Check the network path and the server's "
                                    "load, or raise ?timeout= in the store URL.")
    if "cannot reach" in low or "connection failed" in low or "max retries" in low:
        return Diagnosis("unreachable", f"Cannot reach {where}. Expected a server answering there: is it running, "
                                        "and are the host and port in the store URL right?")
    if "database '" in low and "does not exist" in low:
        return Diagnosis("missing_database", one_line(text) + " (On InfluxDB 2.x, a database is a bucket mapped with "
                                                              "`influx v1 dbrp create`.)")
    if "bucket '" in low and "does not exist" in low:
        return Diagnosis("missing_bucket", one_line(text))
    return Diagnosis("failed", one_line(text))


def diagnose(error: BaseException | str, where: str) -> Diagnosis:
    """The problem behind an exception (looking through its causes) or an error text."""
    if isinstance(error, str):
        return diagnose_text(error, where)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreBusyError):
            return Diagnosis("busy", one_line(str(current)))
        status = getattr(current, "status", None)
        if isinstance(status, int) and status >= 400:  # influxdb-client's ApiException
            return diagnose_http(status, getattr(current, "body", None), where)
        if isinstance(current, ConnectionRefusedError):
            return diagnose_text("connection refused", where)
        current = current.__cause__ or current.__context__
    return diagnose_text(str(error), where)

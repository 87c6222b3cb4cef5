"""Store failures turned into a kind of problem and one line saying what to do.

``vigileos check`` meets failures as typed errors: a store raises a
:class:`~vigileos_analytics.errors.StoreError`, and a failed
:class:`~vigileos_analytics.stores.base.Health` carries one in ``error``. The
error's ``problem`` (one of :data:`PROBLEMS`), ``status`` and ``detail`` (the
server's own words, or the network's reason) choose the advice; nothing here reads
the package's own messages, so rewording one never changes a diagnosis.
:func:`diagnose` gives a :class:`Diagnosis`: the ``problem`` and a message of one
line that says what was expected, what came and what to do.

Driver exceptions met through a cause chain (influxdb-client's ``ApiException``
with ``status`` and ``body``) and bare HTTP answers (:func:`diagnose_http`) are
read by the same rules as the stores use (:func:`.influx_errors.problem_of_answer`).
InfluxDB 2.x cannot run on the machines that test this package, so the 2.x answers
known here (``{"code": "unauthorized", "message": "unauthorized access"}``,
``organization name "x" not found``, ``bucket "x" not found``, ...) are covered by
unit tests of :func:`diagnose_http`, not by a live server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import PROBLEMS, StoreError, exception_chain
from ..stores.influx_errors import REFUSED, one_line, problem_of_answer, server_message

__all__ = ["PROBLEMS", "Diagnosis", "body_message", "diagnose", "diagnose_http", "diagnose_text", "one_line",
           "unreachable"]

#: The human part of an InfluxDB error body (the name this module gave it first).
body_message = server_message

_APIEXCEPTION_RE = re.compile(r"\((\d{3})\)\s*Reason:")
_APIBODY_RE = re.compile(r"HTTP response body: (.*)", re.DOTALL)
_QUOTED_RE = re.compile(r'\\?"([^"\\]+)\\?"')


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong (``problem``, one of :data:`PROBLEMS`) and one line about it."""

    problem: str
    message: str


def _quoted(text: str) -> str:
    match = _QUOTED_RE.search(text)
    return f" {match.group(1)!r}" if match else ""


def _answered(problem: str, status: int, text: str, where: str) -> Diagnosis:
    """The advice for an HTTP error answer whose ``problem`` is known; ``text`` is the server's message."""
    said = f"{where} answered {status}" + (f" ({text})" if text else "")
    advice = {
        "forbidden": "the credentials are valid but lack a right this needs. Give the token or user read and write "
                     "access to the bucket or database.",
        "unauthorized": "the credentials were refused. Expected a valid INFLUXDB_TOKEN, or INFLUXDB_USERNAME and "
                        "INFLUXDB_PASSWORD; check them and that they belong to this server.",
        "wrong_org": f"there is no organisation{_quoted(text)} there. Set INFLUXDB_ORG to the name of an existing "
                     "organisation (`influx org list` shows them).",
        "missing_dbrp": "no DBRP mapping names this database. On InfluxDB 2.x, map the bucket: `influx v1 dbrp "
                        "create --db NAME --rp autogen --bucket-id ID --default`.",
        "missing_bucket": f"the bucket{_quoted(text)} does not exist or the token cannot see it. Create it (`influx "
                          "bucket create -n NAME`) or set INFLUXDB_BUCKET to an existing bucket.",
        "missing_database": f"the database{_quoted(text)} does not exist. Create it (add ?create_database=true to "
                            "the store URL) or set INFLUXDB_BUCKET to an existing one; on InfluxDB 2.x, map a "
                            "bucket with `influx v1 dbrp create`.",
        "wrong_api": "that API is not there. An influxdb2+ URL needs InfluxDB 2.x; for InfluxDB 1.x or 3 use an "
                     "influxdb1+http:// or influxdb3+http:// store URL.",
        "server_error": "the server is up but failing. Look at its log; meanwhile writes wait in the spool.",
    }.get(problem)
    return Diagnosis(problem, f"{said}: {advice}" if advice else f"{said}.")


def diagnose_http(status: int, body: str | bytes | None, where: str) -> Diagnosis:
    """The problem behind an HTTP error answer of InfluxDB (1.x, 2.x or 3) at ``where``."""
    text = server_message(body)
    return _answered(problem_of_answer(status, text), status, text, where)


def unreachable(where: str, reason: str | None) -> Diagnosis:
    """Nothing answered at ``where``; ``reason`` says why when known (``"connection refused"``)."""
    if reason == REFUSED:
        return Diagnosis("unreachable", f"Cannot reach {where} ({REFUSED}). Expected a server listening there: is "
                                        "it running, and are the host and port in the store URL right?")
    said = f"Cannot reach {where}" + (f" ({reason})" if reason else "")
    return Diagnosis("unreachable", f"{said}. Expected a server answering there: is it running, and are the host "
                                    "and port in the store URL right?")


def _typed(error: StoreError, where: str) -> Diagnosis:
    """The diagnosis of a store error from its attributes."""
    if error.status is not None:
        text = error.detail or ""
        return _answered(error.problem or problem_of_answer(error.status, text), error.status, text, where)
    problem = error.problem or "failed"
    if problem == "unreachable":
        return unreachable(where, error.detail)
    if problem == "timeout":
        return Diagnosis("timeout", f"{where} did not answer in time. Check the network path and the server's "
                                    "load, or raise ?timeout= in the store URL.")
    if problem == "missing_database":
        return Diagnosis(problem, one_line(str(error)) + " (On InfluxDB 2.x, a database is a bucket mapped with "
                                                         "`influx v1 dbrp create`.)")
    return Diagnosis(problem, one_line(str(error)))


def diagnose_text(text: str, where: str) -> Diagnosis:
    """The problem named by a failed health check's text, for a store that gives no typed
    ``error``: only influxdb-client's rendering of an HTTP answer (``(401) Reason: ...
    HTTP response body: ...``) is read; any other text is ``failed``."""
    api = _APIEXCEPTION_RE.search(text)
    if api:
        body = _APIBODY_RE.search(text)
        return diagnose_http(int(api.group(1)), body.group(1) if body else "", where)
    return Diagnosis("failed", one_line(text))


def diagnose(error: BaseException | str, where: str) -> Diagnosis:
    """The problem behind an exception: the first error in its cause chain that knows its
    kind (a ``StoreError`` with a ``problem`` or ``status``, a driver's HTTP error, a refused
    connection); ``failed`` when none does. A string is read by :func:`diagnose_text`."""
    if isinstance(error, str):
        return diagnose_text(error, where)
    for link in exception_chain(error):
        if isinstance(link, StoreError):
            if link.problem is not None or link.status is not None:
                return _typed(link, where)
            continue
        status = getattr(link, "status", None)
        if isinstance(status, int) and status >= 400:  # influxdb-client's ApiException
            return diagnose_http(status, getattr(link, "body", None), where)
        if isinstance(link, ConnectionRefusedError):
            return unreachable(where, REFUSED)
    return Diagnosis("failed", one_line(str(error)))

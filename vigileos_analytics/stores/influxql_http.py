"""HTTP to an InfluxDB server's v1 API: ``/ping``, ``/write``, ``/query``.

Driver errors (``requests``) and HTTP error answers become the package's
exceptions here, where they enter:

- cannot connect or timed out (``StoreTimeoutError``), 5xx or 429:
  ``RetryableError`` (a ``StoreConnectionError``): worth spooling and trying
  again later;
- 401 / 403: ``StoreAuthError`` naming the settings to check;
- 404 (no such database, or no v1 API there): ``StoreNotFoundError``;
- any other refusal of a write (400 bad line, 413 too large): ``WriteError``; of a
  query: ``QueryError``.

Each carries ``problem``, ``status``, ``server`` and ``detail``
(:mod:`.influx_errors` picks them); the store wraps a refused write into a
``WriteError`` holding the unwritten points.

Secrets: the password travels as HTTP basic auth and the token as an
``Authorization`` header, never in a URL, a message or a repr.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from ..config import Secret
from ..errors import QueryError, RetryableError, StoreConnectionError, StoreError, WriteError
from .influx_errors import answer_error, network_error, problem_of_answer

__all__ = ["CHUNK_SIZE", "InfluxHttp", "RetryableError"]  # RetryableError: its old home, kept importable

CHUNK_SIZE = 10_000


class InfluxHttp:
    """A connection pool to one server, with its credentials, timeouts and TLS options."""

    def __init__(self, base_url: str, *, username: str = "", password: Secret | None = None,
                 token: Secret | None = None, timeout_s: float = 10.0, verify: bool | str = True,
                 gzip: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.gzip = gzip
        self._session = requests.Session()
        self._session.verify = verify
        # What a refusal (401 / 403) tells the user to check: the credential actually sent.
        if token:
            self._session.headers["Authorization"] = f"Token {token.get()}"
            self._credentials_advice = "Check INFLUXDB_TOKEN (sent as the token) and its rights on the database."
        elif username:
            self._session.auth = (username, password.get() if password else "")
            self._credentials_advice = (f"Check INFLUXDB_USERNAME ({username!r}, sent with INFLUXDB_PASSWORD) and "
                                        "the user's rights on the database.")
        else:
            self._credentials_advice = ("No credentials were sent: set INFLUXDB_USERNAME and INFLUXDB_PASSWORD "
                                        "(InfluxDB 1.x) or INFLUXDB_TOKEN (InfluxDB 2 and 3).")

    def __repr__(self) -> str:
        return f"InfluxHttp({self.base_url!r})"

    @property
    def server(self) -> str:
        """Where, as errors name it: 'InfluxDB at http://host:port'."""
        return f"InfluxDB at {self.base_url}"

    def close(self) -> None:
        self._session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            return self._session.request(method, url, timeout=(self.timeout_s, self.timeout_s), **kwargs)
        except (requests.exceptions.SSLError, requests.exceptions.Timeout,
                requests.exceptions.ConnectionError) as exc:  # the kind is read from the socket-level cause
            raise network_error(exc, self.server, self.timeout_s) from exc
        except requests.exceptions.RequestException as exc:
            raise StoreConnectionError(f"Request to {self.server} failed: {exc}", server=self.server) from exc

    def _refusal(self, response: requests.Response, refused: type[StoreError], advice: str = "") -> StoreError:
        """The typed error for an error answer (see :mod:`.influx_errors`)."""
        if response.status_code in (401, 403):
            advice = self._credentials_advice
        return answer_error(response.status_code, response.text, self.server, refused=refused, advice=advice)

    def _check_common(self, response: requests.Response) -> None:
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise self._refusal(response, StoreConnectionError)

    def ping(self) -> tuple[str, float]:
        """(server version, round-trip time in ms) from ``/ping``."""
        started = time.perf_counter()
        response = self._request("GET", "/ping")
        latency_ms = (time.perf_counter() - started) * 1000
        self._check_common(response)
        if response.status_code not in (200, 204):
            raise self._refusal(response, StoreConnectionError, "That was /ping: is this an InfluxDB server?")
        return response.headers.get("X-Influxdb-Version", "unknown"), latency_ms

    def write(self, body: bytes, *, database: str, retention_policy: str = "") -> None:
        """Post line protocol (nanosecond timestamps); ``body`` is gzip'd when ``self.gzip``."""
        params = {"db": database, "precision": "ns", **({"rp": retention_policy} if retention_policy else {})}
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        response = self._request("POST", "/write", params=params, data=body, headers=headers)
        self._check_common(response)
        if response.status_code == 404:
            raise self._refusal(response, WriteError, "Create the database, e.g. with ?create_database=true in the "
                                                      "store URL, or set INFLUXDB_BUCKET to an existing one.")
        if response.status_code != 204:
            raise self._refusal(response, WriteError)

    def query(self, statement: str, *, database: str | None, params: dict[str, Any] | None = None,
              retention_policy: str = "", write: bool = False) -> list[dict]:
        """Run one InfluxQL statement with bound ``params``; returns its series (dicts
        with name, tags, columns, values; times as int nanoseconds). ``write`` (the
        statement changes data) no longer changes which error a refusal raises."""
        data = {"q": statement, "epoch": "ns", "chunked": "true", "chunk_size": str(CHUNK_SIZE)}
        if database:
            data["db"] = database
        if retention_policy:
            data["rp"] = retention_policy
        if params:
            data["params"] = json.dumps(params)
        response = self._request("POST", "/query", data=data)
        self._check_common(response)
        if response.status_code != 200:
            raise self._refusal(response, QueryError, f"The statement was: {statement}")
        series: list[dict] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            chunk = json.loads(line)
            if chunk.get("error"):
                raise self._query_refused(chunk["error"], statement)
            for result in chunk.get("results", []):
                if result.get("error"):
                    raise self._query_refused(result["error"], statement)
                series.extend(result.get("series") or [])
        return series

    def _query_refused(self, message: str, statement: str) -> QueryError:
        """An error inside a 200 answer: the server's words give the problem (``database not found``)."""
        return QueryError(f"{self.server} refused the query: {message}\nThe statement was: {statement}",
                          server=self.server, problem=problem_of_answer(None, message), detail=message)

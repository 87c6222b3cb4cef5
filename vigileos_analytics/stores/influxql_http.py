"""HTTP to an InfluxDB server's v1 API: ``/ping``, ``/write``, ``/query``.

Driver errors (``requests``) and HTTP error answers become the package's
exceptions here, where they enter:

- cannot connect, timed out, 5xx or 429: :class:`RetryableError` (a
  ``StoreConnectionError``): worth spooling and trying again later;
- 401 / 403: ``StoreConnectionError`` naming the settings to check (on writes a
  ``WriteError``);
- any other refusal of a write (400 bad line, 404 no such database, 413 too
  large): ``WriteError``; of a query: ``QueryError``.

Secrets: the password travels as HTTP basic auth and the token as an
``Authorization`` header, never in a URL, a message or a repr.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from ..config import Secret
from ..errors import QueryError, StoreConnectionError, WriteError

CHUNK_SIZE = 10_000


class RetryableError(StoreConnectionError):
    """The server is unreachable, timed out, or answered 5xx / 429: try again later."""


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
        if token:
            self._session.headers["Authorization"] = f"Token {token.get()}"
        elif username:
            self._session.auth = (username, password.get() if password else "")

    def __repr__(self) -> str:
        return f"InfluxHttp({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            return self._session.request(method, url, timeout=(self.timeout_s, self.timeout_s), **kwargs)
        except requests.exceptions.SSLError as exc:
            raise StoreConnectionError(
                f"TLS handshake with InfluxDB at {self.base_url} failed: {exc}. Check the certificate, or give a CA "
                "bundle with ?verify=/path/to/ca.pem in the store URL.") from exc
        except requests.exceptions.Timeout as exc:
            raise RetryableError(f"InfluxDB at {self.base_url} did not answer within {self.timeout_s:g} s "
                                 "(raise ?timeout= in the store URL if the server is just slow).") from exc
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection failed"
            raise RetryableError(f"Cannot reach InfluxDB at {self.base_url} ({reason}). Is it running? "
                                 "Try `vigileos check`.") from exc
        except requests.exceptions.RequestException as exc:
            raise StoreConnectionError(f"Request to InfluxDB at {self.base_url} failed: {exc}") from exc

    def _refusal(self, response: requests.Response) -> str:
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text
        return f"InfluxDB at {self.base_url} answered {response.status_code}: {str(message).strip()[:300]}"

    def _check_common(self, response: requests.Response, write: bool) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(self._refusal(response))
        if response.status_code in (401, 403):
            error = WriteError if write else StoreConnectionError
            raise error(f"{self._refusal(response)}. Check INFLUXDB_USERNAME / INFLUXDB_PASSWORD or INFLUXDB_TOKEN "
                        "and the user's rights on the database.")

    def ping(self) -> tuple[str, float]:
        """(server version, round-trip time in ms) from ``/ping``."""
        started = time.perf_counter()
        response = self._request("GET", "/ping")
        latency_ms = (time.perf_counter() - started) * 1000
        self._check_common(response, write=False)
        if response.status_code not in (200, 204):
            raise StoreConnectionError(f"{self._refusal(response)} on /ping; is this an InfluxDB server?")
        return response.headers.get("X-Influxdb-Version", "unknown"), latency_ms

    def write(self, body: bytes, *, database: str, retention_policy: str = "") -> None:
        """Post line protocol (nanosecond timestamps); ``body`` is gzip'd when ``self.gzip``."""
        params = {"db": database, "precision": "ns", **({"rp": retention_policy} if retention_policy else {})}
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        response = self._request("POST", "/write", params=params, data=body, headers=headers)
        self._check_common(response, write=True)
        if response.status_code == 404:
            raise WriteError(f"{self._refusal(response)}. Create the database, e.g. with ?create_database=true "
                             "in the store URL, or set INFLUXDB_BUCKET to an existing one.")
        if response.status_code != 204:
            raise WriteError(self._refusal(response))

    def query(self, statement: str, *, database: str | None, params: dict[str, Any] | None = None,
              retention_policy: str = "", write: bool = False) -> list[dict]:
        """Run one InfluxQL statement with bound ``params``; returns its series (dicts
        with name, tags, columns, values; times as int nanoseconds)."""
        data = {"q": statement, "epoch": "ns", "chunked": "true", "chunk_size": str(CHUNK_SIZE)}
        if database:
            data["db"] = database
        if retention_policy:
            data["rp"] = retention_policy
        if params:
            data["params"] = json.dumps(params)
        response = self._request("POST", "/query", data=data)
        self._check_common(response, write=False)
        if response.status_code != 200:
            raise QueryError(f"{self._refusal(response)}\nThe statement was: {statement}")
        series: list[dict] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            chunk = json.loads(line)
            if chunk.get("error"):
                raise QueryError(f"InfluxDB at {self.base_url} refused the query: {chunk['error']}\n"
                                 f"The statement was: {statement}")
            for result in chunk.get("results", []):
                if result.get("error"):
                    raise QueryError(f"InfluxDB at {self.base_url} refused the query: {result['error']}\n"
                                     f"The statement was: {statement}")
                series.extend(result.get("series") or [])
        return series

"""How long a store keeps points, per backend (:meth:`~.base.MetricsStore.retention`).

- InfluxQL (InfluxDB 1.x, 3, 2.x-compat): the database's retention policy (the
  store URL's ``retention_policy``, else the database's default policy), read with
  ``SHOW RETENTION POLICIES`` and changed with ``ALTER RETENTION POLICY``. The
  server deletes expired shards itself. Its shard group duration is set by
  InfluxDB's own rule (1 h below 2 days, 1 day up to 180 days, 7 days above or
  for ever), as a policy shorter than its shards is refused;
- InfluxDB 2.x: the bucket's ``expire`` retention rule, through influxdb-client's
  ``BucketsApi``;
- embedded (DuckDB): a small JSON file beside the store, ``<store>.retention.json``
  (``{"retention_days": N, "set_at": ISO UTC}``), enforced by ``vigileos cleanup``:
  nothing expires between two cleanups.

``days = 0`` means "keep for ever" everywhere (InfluxDB's own convention).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, QueryError, StoreConnectionError, ValidationError
from .base import Retention

if TYPE_CHECKING:
    from .embedded import EmbeddedStore
    from .influx2 import Influx2Store
    from .influxql import InfluxQLStore

MAX_DAYS = 36_500
_GO_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def validate_days(days: Any) -> int:
    """A retention in whole days, 0 (for ever) to 36,500."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise ValidationError(f"The retention must be a whole number of days from 0 (keep for ever) to {MAX_DAYS}; "
                              f"got {days!r}.", field="days", value=days)
    return days


# -- embedded: a JSON file beside the store ------------------------------------------------

def retention_file(store: EmbeddedStore) -> Path:
    """``<store file>.retention.json``."""
    return Path(f"{store.path}.retention.json")


def embedded_retention(store: EmbeddedStore) -> Retention:
    path = retention_file(store)
    if not path.exists():
        return Retention(store.backend, None, str(path), {"set_at": None}, enforced_by_store=False)
    try:
        data = json.loads(path.read_text())
        days = validate_days(data["retention_days"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ConfigurationError(f"The retention file {path} is unreadable ({exc}); expected "
                                 '{"retention_days": N}. Fix it or set it again with `vigileos retention set --days N`.'
                                 ) from exc
    return Retention(store.backend, days or None, str(path), {"set_at": data.get("set_at")}, enforced_by_store=False)


def set_embedded_retention(store: EmbeddedStore, days: int) -> Retention:
    days = validate_days(days)
    path = retention_file(store)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"retention_days": days,
                                   "set_at": datetime.now(UTC).isoformat()}) + "\n")
    os.replace(partial, path)
    return embedded_retention(store)


# -- InfluxQL: the retention policy ------------------------------------------------------------

def _go_duration_days(text: str) -> float | None:
    """InfluxDB's '720h0m0s' as days; '0s' (infinite) as None."""
    match = _GO_DURATION_RE.match(text or "")
    if not match:
        raise QueryError(f"InfluxDB reported the retention duration {text!r}; expected a form such as 720h0m0s.")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    return None if total == 0 else total / 86_400


def _policies(store: InfluxQLStore) -> list[dict[str, Any]]:
    from .influxql import quote_identifier

    series = store.http.query(f"SHOW RETENTION POLICIES ON {quote_identifier(store.database, 'database')}",
                              database=None)
    return [dict(zip(s["columns"], row, strict=True)) for s in series for row in s.get("values") or []]


def _influxql_policy(store: InfluxQLStore) -> dict[str, Any]:
    policies = _policies(store)
    wanted = store.retention_policy
    for policy in policies:
        if (policy["name"] == wanted) if wanted else policy.get("default"):
            return policy
    raise StoreConnectionError(
        f"The database {store.database!r} on {store.http.base_url} has no retention policy "
        f"{wanted or '(default)'!r}; it has {[p['name'] for p in policies]}. Check the store URL's retention_policy.")


def influxql_retention(store: InfluxQLStore) -> Retention:
    policy = _influxql_policy(store)
    return Retention(store.backend, _go_duration_days(policy["duration"]), f"retention policy {policy['name']!r}",
                     {"database": store.database, "policy": policy["name"], "default": policy.get("default"),
                      "shard_group_duration": policy.get("shardGroupDuration")})


def shard_duration_hours(days: int) -> int:
    """InfluxDB's default shard group duration for a policy of ``days`` (0: for ever), in hours."""
    if days == 0 or days > 180:
        return 7 * 24
    return 1 if days < 2 else 24


def set_influxql_retention(store: InfluxQLStore, days: int) -> Retention:
    from .influxql import quote_identifier

    days = validate_days(days)
    policy = _influxql_policy(store)
    duration = "INF" if days == 0 else f"{days * 24}h"
    store.http.query(
        f"ALTER RETENTION POLICY {quote_identifier(policy['name'], 'retention policy')} ON "
        f"{quote_identifier(store.database, 'database')} DURATION {duration} "
        f"SHARD DURATION {shard_duration_hours(days)}h", database=None, write=True)
    return influxql_retention(store)


# -- InfluxDB 2: the bucket's retention rules ----------------------------------------------------

def _bucket(store: Influx2Store) -> Any:
    from influxdb_client.rest import ApiException

    try:
        bucket = store._client.buckets_api().find_bucket_by_name(store.bucket)
    except ApiException as exc:
        raise QueryError(f"InfluxDB 2 at {store.url} refused to list buckets ({exc.status}): {exc.body}") from exc
    if bucket is None:
        raise StoreConnectionError(f"The bucket {store.bucket!r} does not exist in the org {store.org!r}, or the "
                                   "token cannot see it. Check INFLUXDB_BUCKET, INFLUXDB_ORG and the token's rights.")
    return bucket


def influx2_retention(store: Influx2Store) -> Retention:
    bucket = _bucket(store)
    expire = [r for r in (bucket.retention_rules or []) if getattr(r, "type", "expire") == "expire"]
    seconds = expire[0].every_seconds if expire else 0
    return Retention(store.backend, seconds / 86_400 if seconds else None, f"bucket {store.bucket!r}",
                     {"bucket": store.bucket, "org": store.org})


def set_influx2_retention(store: Influx2Store, days: int) -> Retention:
    from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
    from influxdb_client.rest import ApiException

    days = validate_days(days)
    bucket = _bucket(store)
    bucket.retention_rules = [BucketRetentionRules(type="expire", every_seconds=days * 86_400)]
    try:
        store._client.buckets_api().update_bucket(bucket=bucket)
    except ApiException as exc:
        raise QueryError(f"InfluxDB 2 at {store.url} refused the new retention of bucket {store.bucket!r} "
                         f"({exc.status}): {exc.body}") from exc
    return influx2_retention(store)

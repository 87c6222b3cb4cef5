"""The embedded store's write path: series ids, points upserts and the running
facts of each series, all inside one transaction of the caller (see :mod:`.embedded`)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd

from ..schema import AVAILABILITY
from .base import WriteResult
from .duckdb_frames import factorize_series, sorted_unique_points
from .duckdb_runs import refresh_runs_after_write


def _series_key(equipment_id: str, metric_type: str, tags: dict[str, str]) -> str:
    return json.dumps([equipment_id, metric_type, sorted(tags.items())], separators=(",", ":"))


def write_points_locked(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, run_gap_ns: int) -> WriteResult:
    """Write a normalized points frame inside the caller's transaction (exclusive lock held)."""
    tag_columns = [c for c in frame.columns if c not in ("time", "equipment_id", "metric_type", "value")]
    combo_codes, combos = factorize_series(frame, tag_columns)
    series_ids = _resolve_series(con, combos)
    batch = sorted_unique_points(
        series_ids[combo_codes].astype("int32"),
        frame["time"].to_numpy("datetime64[ns]").view("int64"),
        frame["value"].to_numpy(),
    )
    stats = batch.groupby("series_id", sort=False).agg(
        bmin=("time", "min"), bmax=("time", "max"), n=("time", "size"), last_value=("value", "last")
    ).reset_index()
    known = con.execute(
        "SELECT series_id, max_time FROM series WHERE series_id IN (SELECT unnest($1))",
        [stats["series_id"].tolist()],
    ).df()
    stats = stats.merge(known, on="series_id", how="left")
    overlapping = stats[stats["max_time"].notna() & (stats["bmin"] <= stats["max_time"])]
    con.register("batch_points", batch)
    try:
        if not overlapping.empty:
            con.register("overlap_series", overlapping[["series_id"]])
            con.execute(
                "DELETE FROM points USING batch_points b WHERE points.series_id = b.series_id "
                "AND points.time = b.time AND points.series_id IN (SELECT series_id FROM overlap_series) "
                "AND points.time BETWEEN $1 AND $2",
                [int(overlapping["bmin"].min()), int(overlapping["bmax"].max())],
            )
            con.unregister("overlap_series")
        con.execute("INSERT INTO points SELECT series_id, time, value FROM batch_points")
    finally:
        con.unregister("batch_points")
    _update_series_facts(con, stats, recount=overlapping["series_id"].tolist())
    is_availability = (frame["metric_type"] == AVAILABILITY).to_numpy()
    if is_availability.any():
        written = frame.loc[is_availability, ["equipment_id", "time", "value"]]
        refresh_runs_after_write(con, pd.DataFrame({
            "equipment_id": written["equipment_id"].array,
            "time": written["time"].to_numpy("datetime64[ns]").view("int64"),
            "value": written["value"].to_numpy(),
        }), run_gap_ns)
    return WriteResult(points=len(batch), series=len(stats))

def _resolve_series(con: duckdb.DuckDBPyConnection, combos: pd.DataFrame) -> np.ndarray:
    """Series ids for each row of ``combos`` (equipment_id, metric_type, tags), creating new ones."""
    keys = [_series_key(e, m, t)
            for e, m, t in zip(combos["equipment_id"], combos["metric_type"], combos["tags"], strict=True)]
    existing = dict(con.execute(
        "SELECT series_key, series_id FROM series WHERE series_key IN (SELECT unnest($1))", [keys]
    ).fetchall())
    next_id = con.execute("SELECT coalesce(max(series_id), 0) + 1 FROM series").fetchall()[0][0]
    new_series: list[tuple] = []
    new_tags: list[tuple] = []
    ids: list[int] = []
    for key, eq, metric, tags in zip(keys, combos["equipment_id"], combos["metric_type"], combos["tags"], strict=True):
        sid = existing.get(key)
        if sid is None:
            sid = existing[key] = next_id
            next_id += 1
            new_series.append((sid, key, eq, metric, json.dumps(tags, sort_keys=True)))
            new_tags.extend((sid, k, v) for k, v in tags.items())
        ids.append(sid)
    # Bulk inserts through a registered frame: executemany costs a round trip per row.
    for table, rows, columns, values in (
        ("series", new_series, ["series_id", "series_key", "equipment_id", "metric_type", "tags"],
         "series_id, series_key, equipment_id, metric_type, tags, NULL, NULL, NULL, 0"),
        ("series_tags", new_tags, ["series_id", "key", "value"], "series_id, key, value"),
    ):
        if rows:
            con.register("new_rows", pd.DataFrame(rows, columns=columns))
            try:
                con.execute(f"INSERT INTO {table} SELECT {values} FROM new_rows")
            finally:
                con.unregister("new_rows")
    return np.asarray(ids, dtype="int64")

def _update_series_facts(con: duckdb.DuckDBPyConnection, stats: pd.DataFrame, recount: list[int]) -> None:
    con.register("batch_stats", stats[["series_id", "bmin", "bmax", "n", "last_value"]])
    try:
        con.execute("""
            UPDATE series SET
                min_time = CASE WHEN series.min_time IS NULL OR b.bmin < series.min_time
                    THEN b.bmin ELSE series.min_time END,
                last_value = CASE WHEN series.max_time IS NULL OR b.bmax >= series.max_time
                    THEN b.last_value ELSE series.last_value END,
                max_time = CASE WHEN series.max_time IS NULL OR b.bmax > series.max_time
                    THEN b.bmax ELSE series.max_time END,
                points = series.points + b.n
            FROM batch_stats b WHERE series.series_id = b.series_id
        """)
    finally:
        con.unregister("batch_stats")
    if recount:
        recount_series(con, recount)

def recount_series(con: duckdb.DuckDBPyConnection, series_ids: list[int]) -> None:
    """Recompute the running facts of series whose points were replaced or deleted."""
    con.execute("""
        UPDATE series SET min_time = f.min_time, max_time = f.max_time, last_value = f.last_value, points = f.n
        FROM (
            SELECT s.sid AS series_id, min(p.time) AS min_time, max(p.time) AS max_time,
                   arg_max(p.value, p.time) AS last_value, count(p.time) AS n
            FROM (SELECT unnest($1) AS sid) s LEFT JOIN points p ON p.series_id = s.sid
            GROUP BY s.sid
        ) f WHERE series.series_id = f.series_id
    """, [series_ids])
    con.execute("DELETE FROM series_tags WHERE series_id IN (SELECT series_id FROM series WHERE points = 0)")
    con.execute("DELETE FROM series WHERE points = 0")

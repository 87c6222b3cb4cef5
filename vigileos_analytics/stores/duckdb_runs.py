"""Availability runs in the embedded store: kept up to date at every write and delete.

A run is a stretch of availability samples of one equipment with one state and no
gap longer than the store's ``run_gap`` (see :mod:`vigileos_analytics.stores.intervals`).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..schema import AVAILABILITY
from .intervals import build_runs, dedupe_stream


def refresh_runs_after_write(con: duckdb.DuckDBPyConnection, samples: pd.DataFrame, run_gap_ns: int) -> None:
    """Rebuild the availability runs that newly written ``samples`` may affect."""
    changed = samples.groupby("equipment_id", sort=False)["time"].min().rename("from_time").reset_index()
    rebuild_runs(con, changed, run_gap_ns, samples)


def rebuild_runs(con: duckdb.DuckDBPyConnection, changed: pd.DataFrame, run_gap_ns: int,
                 written: pd.DataFrame | None = None) -> None:
    """``changed``: equipment_id and the first time whose samples changed.

    The last run that ended strictly before that time (the anchor) is unaffected
    up to its last sample; runs are rebuilt from that sample on, and the rebuilt
    first run keeps the anchor's start and sample count. When everything written
    lies after all stored samples of an equipment (the usual append), the
    samples come from ``written`` instead of being read back.
    """
    con.register("changed_equipment", changed)
    try:
        anchors = con.execute("""
            SELECT c.equipment_id, c.from_time, a.start_time AS anchor_start, a.last_time AS anchor_last,
                   a.state AS anchor_state, a.samples AS anchor_samples, m.newest
            FROM changed_equipment c
            LEFT JOIN (SELECT equipment_id, max(last_time) AS newest FROM availability_runs
                       WHERE equipment_id IN (SELECT equipment_id FROM changed_equipment)
                       GROUP BY equipment_id) m USING (equipment_id)
            LEFT JOIN LATERAL (
                SELECT r.start_time, r.last_time, r.state, r.samples FROM availability_runs r
                WHERE r.equipment_id = c.equipment_id AND r.last_time < c.from_time
                ORDER BY r.last_time DESC LIMIT 1) a ON TRUE
        """).df()
    finally:
        con.unregister("changed_equipment")
    lowest = np.iinfo("int64").min
    anchors["delete_from"] = anchors["anchor_start"].fillna(lowest).astype("int64")
    anchors["rebuild_from"] = anchors["anchor_last"].fillna(lowest).astype("int64")
    appended = anchors["newest"].isna() | (anchors["from_time"] > anchors["newest"])
    if written is None:
        appended[:] = False

    con.register("rebuild", anchors[["equipment_id", "rebuild_from", "delete_from"]])
    try:
        con.execute("""
            DELETE FROM availability_runs USING rebuild r
            WHERE availability_runs.equipment_id = r.equipment_id AND availability_runs.start_time >= r.delete_from
        """)
        parts = []
        reread = anchors.loc[~appended, ["equipment_id", "rebuild_from"]]
        if not reread.empty:
            con.register("reread", reread)
            parts.append(con.execute("""
                SELECT s.equipment_id, p.time, p.value
                FROM points p JOIN series s ON s.series_id = p.series_id
                JOIN reread r ON r.equipment_id = s.equipment_id
                WHERE s.metric_type = $1 AND p.time >= r.rebuild_from
            """, [AVAILABILITY]).df())
            con.unregister("reread")
    finally:
        con.unregister("rebuild")
    fresh = anchors[appended]
    if not fresh.empty:
        assert written is not None  # without it, nothing counts as appended
        parts.append(written[written["equipment_id"].isin(fresh["equipment_id"])])
        with_anchor = fresh.dropna(subset=["anchor_last"])
        parts.append(pd.DataFrame({"equipment_id": with_anchor["equipment_id"].to_numpy(),
                                   "time": with_anchor["anchor_last"].astype("int64").to_numpy(),
                                   "value": with_anchor["anchor_state"].astype("float64").to_numpy()}))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return
    equipment = union_categoricals([pd.Categorical(p["equipment_id"]) for p in parts], ignore_order=True)
    stream = dedupe_stream(equipment, np.concatenate([p["time"].to_numpy("int64") for p in parts]),
                           np.concatenate([p["value"].to_numpy("float64") for p in parts]))
    runs = build_runs(*stream, gap_ns=run_gap_ns)
    # Merge each rebuilt first run with the unaffected run it continues.
    first = ~runs["equipment_id"].duplicated()
    anchored = anchors.dropna(subset=["anchor_start"]).set_index("equipment_id")
    continues = first & runs["equipment_id"].isin(anchored.index)
    if continues.any():
        ids = runs.loc[continues, "equipment_id"]
        runs.loc[continues, "start_time"] = anchored.loc[ids, "anchor_start"].astype("int64").to_numpy()
        runs.loc[continues, "samples"] += anchored.loc[ids, "anchor_samples"].astype("int64").to_numpy() - 1
    con.register("new_runs", runs)
    try:
        con.execute("INSERT INTO availability_runs SELECT equipment_id, state, start_time, last_time, "
                    "CASE WHEN next_time < 0 THEN NULL ELSE next_time END, samples FROM new_runs")
    finally:
        con.unregister("new_runs")

"""Hostile import inputs, one table: each case is a file (CSV or line protocol), the
`vigileos import` arguments, the exit code and a fragment of what the user reads, and
how many points the store holds afterwards (what is accepted is kept; what is refused
is refused at entry, with its line).

To add a case, append a `Case` to CASES. Cases run through the real CLI against a
real DuckDB file; a case whose `backends` names "influxdb" also runs against the real
influxd fixture (started only when such a case runs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

HEADER = "time,equipment_id,metric_type,value\n"
RANGE = "outside the time range vigileos stores: from 1970-01-01T00:00:00Z up to (not including) 2262-01-01T00:00:00Z"
#: A field of 2 MiB: over the 1 MiB line limit, small enough for a fast test.
BIG = "x" * (2 << 20)


@dataclass(frozen=True)
class Case:
    id: str
    content: str
    args: tuple[str, ...] = ()
    exit_code: int = 0
    says: tuple[str, ...] = ()
    points: int = 0
    name: str = "data.csv"
    backends: tuple[str, ...] = ("duckdb",)


CASES = [
    # -- the time range: [1970-01-01, 2262-01-01) UTC, refused at entry with the line --
    Case("before-1970-and-after-2262-refused",
         HEADER + "1900-01-01,EQ,cpu_usage,1\n1969-12-31T23:59:59,EQ,cpu_usage,2\n2024-01-01,EQ,cpu_usage,3\n"
                  "2262-02-01,EQ,cpu_usage,4\n",
         exit_code=3, says=(f"line 2: time '1900-01-01' is {RANGE}", f"line 3: time '1969-12-31T23:59:59' is {RANGE}",
                            f"line 5: time '2262-02-01' is {RANGE}", "3 bad line(s), nothing imported")),
    Case("before-1970-and-after-2262-skipped",
         HEADER + "1900-01-01,EQ,cpu_usage,1\n1969-12-31T23:59:59,EQ,cpu_usage,2\n2024-01-01,EQ,cpu_usage,3\n"
                  "2262-02-01,EQ,cpu_usage,4\n",
         args=("--skip-bad-rows",), says=("Imported 1 point", "Skipped 3 bad rows", f"2 time '1900-01-01' is {RANGE}",
                                          f"5 time '2262-02-01' is {RANGE}"), points=1),
    Case("range-edges-inclusive-start-exclusive-end",
         HEADER + "1970-01-01T00:00:00Z,EQ,cpu_usage,1\n2261-12-31T23:59:59.999999999Z,EQ,cpu_usage,2\n"
                  "2262-01-01T00:00:00Z,EQ,cpu_usage,3\n1969-12-31T23:59:59.999999999Z,EQ,cpu_usage,4\n",
         args=("--skip-bad-rows",), says=("Imported 2 points", "Skipped 2 bad rows", "4 time '2262-01-01T00:00:00Z'",
                                          "5 time '1969-12-31T23:59:59.999999999Z'"), points=2),
    Case("year-3000-beyond-nanoseconds-skipped-by-line",
         HEADER + "2024-01-01,EQ,cpu_usage,1\n3000-01-02,EQ,cpu_usage,2\n",
         args=("--skip-bad-rows",), says=("Imported 1 point", f"3 time '3000-01-02' is {RANGE}"), points=1),
    Case("year-3000-refused-by-line",
         HEADER + "2024-01-01,EQ,cpu_usage,1\n3000-01-02,EQ,cpu_usage,2\n",
         exit_code=3, says=(f"line 3: time '3000-01-02' is {RANGE}",)),
    Case("offset-moves-a-time-out-of-range",
         HEADER + "1970-01-01T00:30:00+01:00,EQ,cpu_usage,1\n",
         exit_code=3, says=(f"line 2: time '1970-01-01T00:30:00+01:00' is {RANGE}",)),
    Case("timezone-moves-a-naive-time-out-of-range",
         HEADER + "1970-01-01T00:30:00,EQ,cpu_usage,1\n",
         args=("--timezone", "Europe/Paris"), exit_code=3, says=(f"line 2: time '1970-01-01T00:30:00' is {RANGE}",)),
    # -- epoch numbers: each by its own size, the units said --
    Case("epoch-seconds-and-milliseconds-in-one-column",
         "ts,value\n1700000000,1\n1700000060000,2\n",
         args=("--equipment-id", "EQ", "--metric-type", "cpu_usage"),
         says=("Imported 2 points", "Epoch numbers read as 1 in seconds, 1 in milliseconds."), points=2),
    Case("epoch-seconds-past-2262-refused",
         "ts,value\n1700000000,1\n99999999999,2\n",
         args=("--equipment-id", "EQ", "--metric-type", "cpu_usage"),
         exit_code=3, says=(f"line 3: time '99999999999' is {RANGE}",)),
    Case("negative-epoch-refused",
         "ts,value\n-1,1\n",
         args=("--equipment-id", "EQ", "--metric-type", "cpu_usage"), exit_code=3,
         says=(f"line 2: time '-1' is {RANGE}",)),
    Case("epoch-beyond-int64-refused",
         "ts,value\n1700000000,1\n99999999999999999999999,2\n",
         args=("--equipment-id", "EQ", "--metric-type", "cpu_usage", "--skip-bad-rows"),
         says=("Imported 1 point", f"3 time '99999999999999999999999' is {RANGE}"), points=1),
    # -- options --
    Case("unknown-timezone", HEADER + "2024-01-01,EQ,cpu_usage,1\n", args=("--timezone", "Mars/Olympus"),
         exit_code=3, says=("unknown time zone 'Mars/Olympus'",)),
    Case("empty-timezone", HEADER + "2024-01-01,EQ,cpu_usage,1\n", args=("--timezone", ""),
         exit_code=3, says=("unknown time zone ''",)),
    # -- values --
    Case("availability-half-skipped-by-line",
         HEADER + "2024-01-01,EQ,availability,1\n2024-01-02,EQ,availability,0.5\n",
         args=("--skip-bad-rows",), says=("Imported 1 point", "3 availability '0.5' must be 1 (available) or 0"),
         points=1),
    Case("availability-half-refused-by-line",
         HEADER + "2024-01-01,EQ,availability,1\n2024-01-02,EQ,availability,0.5\n",
         exit_code=3, says=("line 3: availability '0.5' must be 1 (available) or 0 (unavailable)",)),
    # -- the file's shape --
    Case("duplicate-header-column",
         "time,equipment_id,metric_type,value,value\n2024-01-01,EQ,cpu_usage,1,2\n",
         exit_code=3, says=("has the column(s) ['value'] more than once in its header (line 1)",)),
    Case("oversized-field-csv", HEADER + f"2024-01-01,EQ,cpu_usage,1\n2024-01-02,{BIG},cpu_usage,2\n",
         exit_code=3, says=("line 3 is longer than 1 MiB",)),
    Case("oversized-field-line-protocol",
         f"equipment_metrics,equipment_id={BIG},metric_type=cpu_usage value=1 1704067200000000000\n",
         name="data.lp", exit_code=3, says=("line 1 is longer than 1 MiB",)),
    # -- line protocol times --
    Case("line-protocol-before-1970-and-at-2262",
         "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=1 -1000000000\n"
         "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=2 1704067200000000000\n"
         "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=3 9214646400000000000\n",
         name="data.lp", args=("--skip-bad-rows",),
         says=("Imported 1 point", f"1 time '1969-12-31 23:59:59+00:00' is {RANGE}",
               f"3 time '2262-01-01 00:00:00+00:00' is {RANGE}"), points=1),
    # -- ids and tags every backend can store --
    Case("id-ending-in-backslash", HEADER + "2024-01-01,EQ\\,cpu_usage,1\n2024-01-01,EQ,cpu_usage,2\n",
         exit_code=3, says=("line 2: equipment_id 'EQ\\\\' has a backslash at the end",),
         backends=("duckdb", "influxdb")),
    Case("id-ending-in-backslash-skipped", HEADER + "2024-01-01,EQ\\,cpu_usage,1\n2024-01-01,EQ,cpu_usage,2\n",
         args=("--skip-bad-rows",), says=("Imported 1 point", "Skipped 1 bad row"), points=1,
         backends=("duckdb", "influxdb")),
    Case("tag-value-with-backslash-before-space",
         "time,equipment_id,metric_type,value,site\n2024-01-01,EQ,cpu_usage,1,Lyon\\ 2\n",
         args=("--tag", "site"), exit_code=3,
         says=("line 2: tag 'site' value 'Lyon\\\\ 2' has a backslash at the end or right before a comma",),
         backends=("duckdb", "influxdb")),
    Case("inner-backslash-is-fine", HEADER + "2024-01-01,EQ\\7,cpu_usage,1\n", says=("Imported 1 point",), points=1,
         backends=("duckdb", "influxdb")),
]

_databases = itertools.count()
ALL_TIME = Selection(datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


def _store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'hostile.duckdb'}"
    server = request.getfixturevalue("influxd")
    name = f"hostile_{next(_databases)}"
    request.addfinalizer(lambda: server.query(f'DROP DATABASE "{name}"'))
    return f"influxdb1+{server.url}/{name}?create_database=true&spool=off"


def _flat(text: str) -> str:
    """Output with table borders and line wrapping taken out, so a wrapped reason reads as one."""
    for border in "│┃":
        text = text.replace(border, " ")
    return " ".join(text.split())


@pytest.mark.parametrize("case,backend", [
    pytest.param(case, backend, id=f"{case.id}[{backend}]",
                 marks=[pytest.mark.influxdb] if backend == "influxdb" else [])
    for case in CASES for backend in case.backends])
def test_hostile_import(case: Case, backend: str, request, tmp_path):
    url = _store_url(backend, request, tmp_path)
    path = tmp_path / case.name
    path.write_text(case.content, encoding="utf-8")
    result = CliRunner().invoke(main, ["--store", url, "import", str(path), *case.args])
    output = _flat(result.output)
    assert result.exit_code == case.exit_code, output
    assert "Internal error" not in output and result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in case.says:
        assert _flat(fragment) in output, output
    with open_store(url) as store:
        assert len(store.query(ALL_TIME)) == case.points


@pytest.mark.influxdb
def test_points_at_the_range_edges_are_exported_whole_from_influxd(request, tmp_path):
    """The first and the last nanosecond of the range, on InfluxDB too: planned, read and written back."""
    url = _store_url("influxdb", request, tmp_path)
    source = tmp_path / "edges.csv"
    source.write_text(HEADER + "1970-01-01T00:00:00Z,EQ,cpu_usage,1\n2261-12-31T23:59:59.999999999Z,EQ,cpu_usage,2\n")
    assert CliRunner().invoke(main, ["--store", url, "import", str(source)]).exit_code == 0
    result = CliRunner().invoke(main, ["--store", url, "export", "-q", str(tmp_path / "all.lp")])
    assert result.exit_code == 0, result.output
    # 2261-12-31T23:59:59.999999999Z is 9_214_646_400 s after the epoch, less one nanosecond
    assert (tmp_path / "all.lp").read_text() == (
        "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=1.0 0\n"
        "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=2.0 9214646399999999999\n")

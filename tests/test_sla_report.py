"""The ``sla_report`` notebook on a real kernel against a small store whose figures are
worked out by hand (a DuckDB file, and once a real influxd): the HTML and the Excel
workbook show them, French headings in French, a PDF printed by Chromium, and the
parameters that pick the SLAs."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.analytics.sla_annotations import annotate
from vigileos_analytics.analytics.sla_definitions import load_slas
from vigileos_analytics.analytics.sla_status import sla_status
from vigileos_analytics.analytics.sla_timeline import annotated_outages, sla_report_entries, timeline_steps
from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.cli.report import report
from vigileos_analytics.i18n import Translator
from vigileos_analytics.reports import run_report
from vigileos_analytics.reports.session import ReportSession
from vigileos_analytics.reports.sla_charts import budget_chart
from vigileos_analytics.schema import AVAILABILITY, Point
from vigileos_analytics.stores import open_store

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)
from .test_sla_cli import STATES as SLA_CLI_STATES

SLA_FILE = """
calendars:
  business:
    timezone: Europe/Paris
    hours: {mon-fri: "08:00-18:00"}
    holidays: [2026-04-03]
maintenance:
  sunday_patching: {every: sunday, hours: "02:00-04:00", timezone: Europe/Paris}
slas:
  - name: servers
    description: Servers in business hours
    scope: {type: server}
    target: 99.5
    calendar: business
    minimum_outage: 2m
  - name: fleet-24x7
    scope: fleet
    target: 99
    maintenance: [sunday_patching]
"""

# The timeline of tests/test_sla_cli.py (A's outages, the blip, the holiday; B up throughout);
# the Wednesday outage is annotated planned below.
STATES = SLA_CLI_STATES
# The week of Monday 30 March in Paris, in UTC.
WEEK = {"start": "2026-03-29T22:00:00", "end": "2026-04-05T22:00:00"}
NBSP = "\u00a0"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _fill(url: str, folder: Path) -> dict:
    inventory = folder / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\nB,Beta,server,Lyon-DC2\n")
    slas = folder / "slas.yaml"
    slas.write_text(SLA_FILE)
    store = open_store(url)
    store.write_points([Point(eq, AVAILABILITY, v, _utc(t)) for eq, t, v in STATES])
    annotate(store, "A", _utc("2026-04-01T12:00:00"), _utc("2026-04-01T13:00:00"), "planned", "CHG-1234 firmware",
             "alice")
    store.close()
    return {"store_url": url, "inventory": str(inventory), "slas": str(slas), **WEEK}


@pytest.fixture(scope="module")
def duckdb_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("sla-report")
    return _fill(f"duckdb:///{folder / 'metrics.duckdb'}", folder)


@pytest.fixture(scope="module")
def session():
    """One kernel and one Chromium for the reports of this module (as a batch shares them)."""
    with ReportSession() as shared:
        yield shared


@pytest.fixture(autouse=True)
def _staleness(monkeypatch):
    monkeypatch.setenv("VIGILEOS_STALENESS", "30d")  # one sample per state change is enough


def _text(path: Path) -> str:
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))))


def _sheet(path: Path, name: str) -> list[dict]:
    book = openpyxl.load_workbook(path, read_only=True)  # read-only keeps the file open until closed
    try:
        rows = list(book[name].iter_rows(values_only=True))
    finally:
        book.close()
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.notebook
def test_the_report_shows_the_hand_worked_figures(duckdb_params, session, tmp_path):
    params = {**duckdb_params, "formats": ["html", "xlsx"]}
    out = run_report("sla_report", params, tmp_path, progress=False, session=session)
    assert out.folder == tmp_path / "sla_report" / "2026-03-29T2200_2026-04-05T2200"
    # servers: 4 service days (Friday is a holiday) x 10 h x 2 equipment = 288,000 s; the
    # Wednesday hour is planned (annotation): 3,600 s; A loses 06:00-06:30Z = 1,800 s.
    # Up 288,000 - 3,600 - 1,800 = 282,600 s; achieved 282,600 / 284,400 = 99.367 %;
    # budget 0.5 % x 284,400 = 1,422 s (24 min shown), left 1,422 - 1,800 = -378 s; ran out
    # 1,422 s after 06:00Z: 06:23:42Z.
    summary = {row["SLA"]: row for row in _sheet(out.xlsx, "SLAs")}
    servers = summary["servers"]
    assert servers["Target (%)"] == 99.5 and servers["Equipment"] == 2
    assert servers["Achieved (%)"] == pytest.approx(100 * 282_600 / 284_400)
    assert servers["Service time (h)"] == pytest.approx(288_000 / 3600)
    assert servers["Planned (h)"] == pytest.approx(3_600 / 3600)
    assert servers["Unplanned (h)"] == pytest.approx(1_800 / 3600)
    assert servers["Budget allowed (h)"] == pytest.approx(1_422 / 3600)
    assert servers["Budget left (h)"] == pytest.approx(-378 / 3600)
    assert servers["Budget ran out (UTC)"] == datetime(2026, 3, 30, 6, 23, 42)
    assert (servers["State"], servers["Outages"], servers["Annotations"]) == ("breached", 1, 1)
    # fleet-24x7, around the clock in UTC: 604,800 s each. Sunday patching 02:00-04:00 Paris on
    # 5 April (00:00-02:00Z): 7,200 s each, planned, and the annotated hour. A: 5,400 + 90 +
    # 28,800 = 34,290 s unplanned. Budget 1 % x (1,209,600 - 14,400 - 3,600) = 11,916 s.
    fleet = summary["fleet-24x7"]
    assert fleet["Unplanned (h)"] == pytest.approx(34_290 / 3600)
    assert fleet["Planned (h)"] == pytest.approx((2 * 7_200 + 3_600) / 3600)
    assert fleet["Budget allowed (h)"] == pytest.approx(11_916 / 3600)
    assert fleet["Outages"] == 3  # the blip counts: no minimum outage

    outages = [row for row in _sheet(out.xlsx, "SLA outages") if row["SLA"] == "servers"]
    assert [(r["Start (UTC)"], r["End (UTC)"], r["Counted as"]) for r in outages] == [
        (datetime(2026, 3, 30, 5), datetime(2026, 3, 30, 6, 30), "unplanned"),
        (datetime(2026, 4, 1, 12), datetime(2026, 4, 1, 13), "planned"),
        (datetime(2026, 4, 3, 8), datetime(2026, 4, 3, 16), "outside service")]
    assert [r["Unplanned (h)"] * 3600 for r in outages] == pytest.approx([1_800, 0, 0])
    assert [r["Outside service (h)"] * 3600 for r in outages] == pytest.approx([3_600, 0, 28_800])
    assert [(r["Annotation"], r["Reason"], r["Author"]) for r in outages] == [
        (None, None, None), ("planned", "CHG-1234 firmware", "alice"), (None, None, None)]

    # The budget at each day of the period: 1,422 s at the start, -378 s from Monday on.
    budget = [row for row in _sheet(out.xlsx, "Error budget over time") if row["SLA"] == "servers"]
    assert [r["Time (UTC)"] for r in budget] == [datetime(2026, 3, 29, 22) + pd.Timedelta(days=k) for k in range(8)]
    assert [round(r["Budget left (h)"] * 3600, 3) for r in budget] == [1_422] + [-378] * 7

    page = _text(out.html)
    assert "SLA report" in page and "Servers in business hours" in page
    for shown in (f"99.367{NBSP}%", f"99.500{NBSP}%", "24 min", "−6 min", "breached", "CHG-1234 firmware", "alice",
                  "2026-03-30 06:23", "Mon, Tue, Wed, Thu, Fri 08:00–18:00 (Europe/Paris)", "2 min",
                  "sunday_patching: Sun 02:00–04:00 (Europe/Paris)",
                  "Achieved % = (known − spent) / known, known = up + degraded + unplanned"):
        assert shown in page, shown


@pytest.mark.notebook
def test_french_report_of_a_month_and_its_pdf(duckdb_params, session, tmp_path):
    params = {**{k: v for k, v in duckdb_params.items() if k not in WEEK}, "month": "2026-03", "language": "fr",
              "formats": ["html", "pdf"], "sla_names": ["servers"]}
    out = run_report("sla_report", params, tmp_path, progress=False, session=session)
    assert out.folder.name == "2026-03"
    page = _text(out.html)
    # March in Paris: 22 weekdays x 10 h x 2 equipment = 1,584,000 s of service; data from
    # 25 March: 5 days x 36,000 s x 2 = 360,000 s known (coverage 22.727 %); A loses 1,800 s
    # on the 30th (the April outages fall outside): achieved 358,200 / 360,000 = 99.5 %, met.
    # Budget 0.5 % x 1,584,000 = 7,920 s (2 h 12 min), left 6,120 s (1 h 42 min).
    for shown in ("Rapport SLA", "Vue d'ensemble des SLA", "Budget d'erreur sur la période", "Définitions utilisées",
                  "Mode de calcul", f"22,727{NBSP}%", f"99,500{NBSP}%", "respecté", "2 h 12 min", "1 h 42 min",
                  "non planifiée", "du 2026-03-01 00:00 au 2026-04-01 00:00 (Europe/Paris)",
                  "lun, mar, mer, jeu, ven 08:00–18:00"):
        assert shown in page, shown
    assert "fleet-24x7" not in page and "SLA report" not in page
    assert out.pdf is not None and out.pdf.read_bytes().startswith(b"%PDF") and out.pdf.stat().st_size > 20_000


@pytest.mark.notebook
@pytest.mark.influxdb
def test_the_report_on_a_real_influxd(influxd, session, tmp_path):  # noqa: F811  (the fixture)
    url = f"influxdb1+{influxd.url}/slarep_{uuid.uuid4().hex[:8]}?create_database=true&spool=off"
    params = {**_fill(url, tmp_path), "formats": ["xlsx"], "sla_names": "servers"}
    out = run_report("sla_report", params, tmp_path / "out", progress=False, session=session)
    [servers] = _sheet(out.xlsx, "SLAs")
    assert servers["Achieved (%)"] == pytest.approx(100 * 282_600 / 284_400)
    assert servers["Budget allowed (h)"] * 3600 == pytest.approx(1_422)
    assert servers["Budget left (h)"] * 3600 == pytest.approx(-378)
    assert servers["Budget ran out (UTC)"] == datetime(2026, 3, 30, 6, 23, 42)
    [planned] = [r for r in _sheet(out.xlsx, "SLA outages") if r["Counted as"] == "planned"]
    assert (planned["Annotation"], planned["Reason"], planned["Author"]) == ("planned", "CHG-1234 firmware", "alice")


@pytest.mark.parametrize(("param", "code", "message"), [
    ("sla_names=nope", 3, "names no SLA 'nope'; defined: servers, fleet-24x7"),
    ("sla_names=[1]", 3, "'sla_names' must be an SLA name or a list"),
    ("slas=/nowhere/slas.yaml", 4, "SLA file /nowhere/slas.yaml does not exist"),
])
def test_bad_sla_parameters_stop_before_a_kernel_starts(duckdb_params, tmp_path, param, code, message):
    args = ["sla_report", "-q", "-o", str(tmp_path), "-p", "formats=[xlsx]", "-p", param]
    for key in ("inventory", "slas", "start", "end"):
        if not param.startswith(f"{key}="):
            args += ["-p", f"{key}={duckdb_params[key]}"]
    result = CliRunner().invoke(report, args, obj=AppContext(duckdb_params["store_url"]))
    assert (result.exit_code, message in result.output) == (code, True), result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
    assert not (tmp_path / "sla_report").exists()  # no notebook ran


DEGRADED_SLAS = """
calendars:
  night:
    timezone: UTC
    hours: {daily: "22:00-06:00", sat: "18:00-24:00"}
slas:
  - name: web
    description: Web with a loss rule
    scope: fleet
    target: 99
    degraded: {metric: packet_loss, above: 0.05, every: 1h, counts_as: down}
  - name: nights
    scope: fleet
    target: 99
    calendar: night
"""


@pytest.mark.notebook
def test_degraded_time_counted_as_down_in_the_report(session, tmp_path):
    (tmp_path / "inventory.csv").write_text("equipment_id,name,type,location\nW,Web,server,Paris\n")
    (tmp_path / "slas.yaml").write_text(DEGRADED_SLAS)
    url = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    store = open_store(url)
    # Monday 2 March (UTC, around the clock): W up, down 20:00-20:30Z; packet loss 0.8 in the
    # 10:00-11:00 slot (above 0.05: degraded), 0.01 in the next one.
    store.write_points([Point("W", AVAILABILITY, v, _utc(t)) for t, v in (
        ("2026-03-01T00:00:00", 1), ("2026-03-02T20:00:00", 0), ("2026-03-02T20:30:00", 1))]
        + [Point("W", "packet_loss", v, _utc(t)) for t, v in (("2026-03-02T10:30:00", 0.8),
                                                               ("2026-03-02T11:30:00", 0.01))])
    store.close()
    params = {"store_url": url, "inventory": str(tmp_path / "inventory.csv"), "slas": str(tmp_path / "slas.yaml"),
              "start": "2026-03-02T00:00:00", "end": "2026-03-03T00:00:00", "formats": ["html", "xlsx"]}
    out = run_report("sla_report", params, tmp_path / "out", progress=False, session=session)
    # Service 86,400 s: degraded 3,600, unplanned 1,800, up 81,000. Degraded counts as down:
    # spent 5,400 s; achieved (86,400 − 5,400) / 86,400 = 93.75 %; budget 1 % x 86,400 = 864 s,
    # left 864 − 5,400 = −4,536 s.
    web = {row["SLA"]: row for row in _sheet(out.xlsx, "SLAs")}["web"]
    assert web["Degraded (h)"] == pytest.approx(1.0)
    assert web["Unplanned (h)"] == pytest.approx(0.5)
    assert web["Up (h)"] == pytest.approx(81_000 / 3600)
    assert web["Achieved (%)"] == pytest.approx(93.75)
    assert web["Budget allowed (h)"] * 3600 == pytest.approx(864)
    assert web["Budget spent (h)"] * 3600 == pytest.approx(5_400)
    assert web["Budget left (h)"] * 3600 == pytest.approx(-4_536)
    page = _text(out.html)
    for shown in (f"93.750{NBSP}%", "degraded (in spent)", "mean Packet loss over 1 h slots above 0.05",
                  "Achieved % = (known − spent) / known", "spent = unplanned time, plus degraded time",
                  "Mon, Tue, Wed, Thu, Fri, Sat, Sun 22:00–06:00 (next day); Sat 18:00–24:00 (UTC)"):
        assert shown in page, shown
    assert "30:00" not in page and "above 0.1" not in page


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "equipment=[A]"], "sla_report does not take the report parameter 'equipment'"),
    (["-p", "site=Paris-DC1"], "sla_report does not take the report parameter 'site'"),
    (["--batch", "equipment"], "sla_report does not take --batch equipment"),
    (["--batch", "site"], "sla_report does not take --batch site"),
])
def test_equipment_and_site_are_refused_for_the_sla_report(duckdb_params, tmp_path, args, message):
    base = ["sla_report", "-q", "-o", str(tmp_path), "-p", "formats=[xlsx]"]
    for key in ("inventory", "slas", "start", "end"):
        base += ["-p", f"{key}={duckdb_params[key]}"]
    result = CliRunner().invoke(report, base + args, obj=AppContext(duckdb_params["store_url"]))
    assert (result.exit_code, message in result.output) == (3, True), result.output
    assert "pick SLAs with sla_names" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "sla_report").exists()  # no notebook ran


def test_timeline_steps_are_daily_and_end_at_now():
    start, end = _utc("2026-03-01T00:00:00"), _utc("2026-04-01T00:00:00")
    steps = timeline_steps(start, end, now=_utc("2026-03-03T12:00:00"))
    assert steps == [start, _utc("2026-03-02T00:00:00"), _utc("2026-03-03T00:00:00"), _utc("2026-03-03T12:00:00")]
    assert len(timeline_steps(start, end, now=_utc("2027-01-01T00:00:00"))) == 32  # 1 March to 1 April


def test_timeline_steps_follow_local_midnight_across_the_dst_change():
    # March 2026 in Paris: midnight is 23:00Z up to Sunday the 29th (clocks go forward at 02:00),
    # 22:00Z from Monday the 30th on; the period ends 1 April 00:00 = 31 March 22:00Z.
    start, end = _utc("2026-02-28T23:00:00"), _utc("2026-03-31T22:00:00")
    steps = timeline_steps(start, end, now=_utc("2027-01-01T00:00:00"), tz="Europe/Paris")
    assert len(steps) == 32
    assert steps[:2] == [start, _utc("2026-03-01T23:00:00")]
    assert steps[27:31] == [_utc("2026-03-27T23:00:00"), _utc("2026-03-28T23:00:00"), _utc("2026-03-29T22:00:00"),
                            _utc("2026-03-30T22:00:00")]
    assert steps[-1] == end


def test_a_long_period_has_at_most_120_steps():
    start = _utc("2026-01-01T00:00:00")
    # 120 days: daily, 120 steps (121 points); 120.5 days: every 2 days, 0, 2, ..., 120, then 120.5.
    assert len(timeline_steps(start, start + timedelta(days=120), now=_utc("2027-01-01T00:00:00"))) == 121
    steps = timeline_steps(start, start + timedelta(days=120.5), now=_utc("2027-01-01T00:00:00"))
    assert len(steps) == 62 and len(steps) - 1 <= 120
    assert steps[:2] == [start, _utc("2026-01-03T00:00:00")]
    assert steps[-2:] == [_utc("2026-05-01T00:00:00"), _utc("2026-05-01T12:00:00")]


def test_a_young_outage_counts_in_the_report_as_in_sla_status(tmp_path):
    # W up from 1 June; down 1 minute before now (10 June 12:00Z), under the 2 min minimum: as
    # `sla status`, nothing unplanned, no outage; up 1 June 00:00 to now = 9.5 days = 820,800 s.
    (tmp_path / "inventory.csv").write_text("equipment_id,name,type,location\nW,Web,server,Paris\n")
    (tmp_path / "slas.yaml").write_text("slas:\n  - {name: web, scope: fleet, target: 99, minimum_outage: 2m}\n")
    store = open_store(f"duckdb:///{tmp_path / 'metrics.duckdb'}")
    store.write_points([Point("W", AVAILABILITY, 1, _utc("2026-06-01T00:00:00")),
                        Point("W", AVAILABILITY, 0, _utc("2026-06-10T11:59:00"))])
    service = EquipmentAnalyticsService(store, inventory=tmp_path / "inventory.csv", staleness=timedelta(days=30))
    now = _utc("2026-06-10T12:00:00")
    [definition] = load_slas(tmp_path / "slas.yaml")
    [entry] = sla_report_entries(service, [(definition, _utc("2026-06-01T00:00:00"), _utc("2026-07-01T00:00:00"))],
                                 now=now)
    [status] = sla_status(service, [definition], period="month", now=now)
    store.close()
    report, cli = entry.status.figures, status.figures
    assert (report.unplanned_s, report.outages, report.budget_spent_s) == (0, 0, 0)
    assert report.up_s == pytest.approx(820_800)
    assert (report.up_s, report.unplanned_s, report.outages) == (cli.up_s, cli.unplanned_s, cli.outages)


def test_the_chart_title_shows_an_sla_name_as_written(tmp_path):
    (tmp_path / "inventory.csv").write_text("equipment_id,name,type,location\nW,Web,server,Paris\n")
    (tmp_path / "slas.yaml").write_text("slas:\n  - {name: '<b>web</b> <a href=\"x\">', scope: fleet, target: 99}\n")
    store = open_store(f"duckdb:///{tmp_path / 'metrics.duckdb'}")
    store.write_points([Point("W", AVAILABILITY, 1, _utc("2026-06-01T00:00:00"))])
    service = EquipmentAnalyticsService(store, inventory=tmp_path / "inventory.csv", staleness=timedelta(days=30))
    [definition] = load_slas(tmp_path / "slas.yaml")
    [entry] = sla_report_entries(service, [(definition, _utc("2026-06-01T00:00:00"), _utc("2026-06-02T00:00:00"))],
                                 now=_utc("2026-06-03T00:00:00"))
    store.close()
    title = budget_chart(entry, Translator("en")).layout.title.text
    assert title == '&lt;b&gt;web&lt;/b&gt; &lt;a href="x"&gt;: error budget left'


def test_an_outage_lists_every_annotation_that_touches_it():
    outages = pd.DataFrame({"equipment_id": ["A", "B"],
                            "start": pd.to_datetime(["2026-01-01T10:00"] * 2, utc=True),
                            "end": pd.to_datetime(["2026-01-01T11:00"] * 2, utc=True)})
    ns = pd.Timestamp("2026-01-01T10:30", tz="UTC").value
    notes = pd.DataFrame({"equipment_id": ["A", "A", "B"], "start": [ns, ns, ns + 3_600 * 10**9],
                          "end": [ns + 60 * 10**9] * 2 + [ns + 7_200 * 10**9],
                          "classification": ["planned", "unplanned", "planned"], "reason": ["r1", "r2", "late"],
                          "author": ["alice", "", "bob"]})
    done = annotated_outages(outages, notes)
    assert done[["annotation", "reason", "author"]].to_dict("records") == [
        {"annotation": "planned; unplanned", "reason": "r1; r2", "author": "alice"},
        {"annotation": "", "reason": "", "author": ""}]

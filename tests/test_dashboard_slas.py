"""The fleet overview's SLA panel, without a browser: states and budgets worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.analytics.sla_definitions import parse_slas
from vigileos_analytics.dashboards.models import build_overview
from vigileos_analytics.dashboards.panels import slas_panel
from vigileos_analytics.dashboards.params import resolve_range
from vigileos_analytics.errors import ConfigurationError
from vigileos_analytics.i18n import Translator
from vigileos_analytics.schema import AVAILABILITY, Point
from vigileos_analytics.stores import open_store

AT = datetime(2024, 2, 11, tzinfo=UTC)
# A: up from 25 January; down 5 February 10:00-11:00 (3,600 s) and from 10 February 20:00
# on (14,400 s by the 11th, 00:00). B: up throughout.
STATES = [("A", "2024-01-25T00:00", 1), ("A", "2024-02-05T10:00", 0), ("A", "2024-02-05T11:00", 1),
          ("A", "2024-02-10T20:00", 0), ("B", "2024-01-25T00:00", 1)]
SLAS = {"slas": [
    {"name": "a-tight", "scope": {"equipment": ["A"]}, "target": 99.9, "description": "A <tight>"},
    {"name": "a-loose", "scope": {"equipment": ["A"]}, "target": 99.0},
    {"name": "b", "scope": {"equipment": ["B"]}, "target": 90.0},
    {"name": "routers", "scope": {"type": "router"}, "target": 99.0},
]}


@pytest.fixture
def service(tmp_path):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris\nB,Beta,sensor,Lyon\n")
    store = open_store(f"duckdb:///{tmp_path / 'metrics.duckdb'}")
    store.write_points([Point(eq, AVAILABILITY, v, datetime.fromisoformat(t).replace(tzinfo=UTC))
                        for eq, t, v in STATES])
    return EquipmentAnalyticsService(store, inventory=inventory, staleness=timedelta(days=30))


def test_overview_lists_breached_then_at_risk_slas_with_their_budget(service):
    model = build_overview(service, resolve_range("24h", AT), slas=parse_slas(SLAS))
    slas = model.slas.set_index("name")
    # February 2024, around the clock in UTC: 29 days = 2,505,600 s of service time per equipment.
    # a-tight allows 0.1 % = 2,505.6 s; 18,000 s are spent: breached, 15,494.4 s over.
    # a-loose allows 1 % = 25,056 s; 7,056 s remain, and the last 24 h spent 14,400 s: at that rate
    # the rest goes in 7,056 / 14,400 x 86,400 s = 42,336 s, on 11 February 11:45:36, before the month ends.
    assert list(model.slas["name"]) == ["a-tight", "a-loose", "b", "routers"]
    assert list(model.slas["state"]) == ["breached", "at risk", "met", "no data"]
    assert slas.at["a-tight", "budget_remaining_s"] == pytest.approx(2_505.6 - 18_000)
    assert slas.at["a-loose", "budget_remaining_s"] == pytest.approx(25_056 - 18_000)
    assert slas.at["a-loose", "budget_remaining_pct"] == pytest.approx(100 * 7_056 / 25_056)
    assert slas.at["a-loose", "achieved_pct"] == pytest.approx(100 * (864_000 - 18_000) / 864_000)
    assert pd.Timestamp(slas.at["a-loose", "runs_out_at"]) == pd.Timestamp("2024-02-11T11:45:36Z")
    assert slas.at["b", "achieved_pct"] == pytest.approx(100.0)

    panel = slas_panel(model, Translator("en"))
    assert panel.index('data-sla="a-tight"') < panel.index('data-sla="a-loose"')
    assert 'data-sla="b"' not in panel and 'data-sla="routers"' not in panel
    # Percentages carry a no-break space; 7,056 s is 1 h 57 min 36 s, shown to the minute.
    for expected in ("1 SLA on course · 1 without data", "breached", "at risk", "99.90\xa0%", "97.92\xa0%",
                     "1 h 58 min (28.2\xa0%)", "2024-02-11 11:45", "A &lt;tight&gt;"):
        assert expected in panel, expected
    french = slas_panel(model, Translator("fr"))
    assert "1 SLA en bonne voie · 1 sans données" in french and "dépassé" in french and "menacé" in french


def test_overview_says_when_every_sla_is_on_course_none_is_defined_or_the_file_is_wrong(service):
    period = resolve_range("24h", AT)
    on_course = build_overview(service, period, slas=parse_slas({"slas": [SLAS["slas"][2]]}))
    panel = slas_panel(on_course, Translator("en"))
    assert "1 SLA on course" in panel and "vigileos-slas-ok" in panel and "<table" not in panel
    assert "No SLA defined" in slas_panel(build_overview(service, period, slas=[]), Translator("en"))
    problem = ConfigurationError("SLA file /x/slas.yaml does not exist")
    broken = build_overview(service, period, slas=problem)
    assert broken.total == 2  # the rest of the page is unharmed
    assert "The SLA definitions could not be used: SLA file /x/slas.yaml does not exist" in slas_panel(
        broken, Translator("en"))


def test_a_page_ending_at_midnight_on_the_first_shows_the_month_just_ended(service):
    # The last 24 h of February: b's month is February (100 % up), not March, which has not begun.
    model = build_overview(service, resolve_range("24h", datetime(2024, 3, 1, tzinfo=UTC)),
                           slas=parse_slas({"slas": [SLAS["slas"][2]]}))
    assert list(model.slas["state"]) == ["met"]
    assert model.slas.at[0, "achieved_pct"] == pytest.approx(100.0)

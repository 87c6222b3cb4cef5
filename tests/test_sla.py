"""The SLA engine on hand-worked cases: every expected figure below is worked out in
the comment above it from the calendar and the intervals, not by the engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigileos_analytics.analytics.sla import DegradedRule, SlaRules, evaluate_sla
from vigileos_analytics.analytics.sla_burn import burn_rate, burn_window_sums
from vigileos_analytics.analytics.sla_calendar import (
    RecurringWindow,
    ServiceCalendar,
    WeeklyHours,
    parse_days,
    parse_hours,
    period_bounds,
)
from vigileos_analytics.errors import ValidationError

H = 3600


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ns(text: str) -> int:
    return pd.Timestamp(utc(text)).value


def intervals(*rows: tuple[str, int, str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "equipment_id": [r[0] for r in rows], "state": [r[1] for r in rows],
        "start": [ns(r[2]) for r in rows], "end": [ns(r[3]) for r in rows],
    })


def windows(*rows: tuple[str, str, str], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame({"equipment_id": [r[0] for r in rows], "start": [ns(r[1]) for r in rows],
                          "end": [ns(r[2]) for r in rows]})
    for name, values in extra.items():
        frame[name] = values
    return frame


def business_hours(**kwargs) -> ServiceCalendar:
    start, end = parse_hours("08:00-18:00")
    return ServiceCalendar("business", "Europe/Paris", (WeeklyHours(parse_days("mon-fri"), start, end),), **kwargs)


ALWAYS = ServiceCalendar("always")


def test_service_hours_follow_the_dst_change_and_an_outage_counts_only_inside_them():
    # Europe/Paris moves to summer time on Sunday 2026-03-29: 08:00-18:00 is 07:00-17:00Z
    # the week before and 06:00-16:00Z after. Two working weeks, 10 days x 10 h = 100 h.
    # The outage runs 05:00-06:30Z on Monday 30 March: only 06:00-06:30Z (08:00-08:30
    # local) is service time, so 1,800 s of downtime and one outage.
    start, end = utc("2026-03-22T23:00:00"), utc("2026-04-03T22:00:00")
    data = intervals(("EQ", 1, "2026-03-19T00:00:00", "2026-03-30T05:00:00"),
                     ("EQ", 0, "2026-03-30T05:00:00", "2026-03-30T06:30:00"),
                     ("EQ", 1, "2026-03-30T06:30:00", "2026-04-04T00:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, business_hours()), start, end, end)
    assert fig.service_s == 100 * H
    assert fig.unplanned_s == 1800
    assert fig.up_s == 100 * H - 1800
    assert fig.outages == 1
    assert fig.achieved_pct == pytest.approx(100 * (100 * H - 1800) / (100 * H))
    outage = fig.outage_list.iloc[0]
    assert outage["unplanned_s"] == 1800 and outage["outside_service_s"] == 3600


def test_a_holiday_has_no_service_time():
    # Week of Monday 21 Dec 2026 with the 25th a holiday: 4 days x 10 h = 40 h. A whole-day
    # outage on the 25th costs nothing and is listed as outside service.
    start, end = utc("2026-12-20T23:00:00"), utc("2026-12-27T23:00:00")
    data = intervals(("EQ", 1, "2026-12-20T00:00:00", "2026-12-25T00:00:00"),
                     ("EQ", 0, "2026-12-25T00:00:00", "2026-12-26T00:00:00"),
                     ("EQ", 1, "2026-12-26T00:00:00", "2026-12-28T00:00:00"))
    cal = business_hours(holidays=frozenset({date(2026, 12, 25)}))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, cal), start, end, end)
    assert fig.service_s == 40 * H
    assert fig.unplanned_s == 0 and fig.outages == 0 and fig.achieved_pct == 100
    assert fig.outage_list["classification"].tolist() == ["outside service"]


def test_a_blip_under_the_minimum_outage_counts_as_up():
    # One UTC day, always in service. 10:00:00-10:01:30 (90 s) is under the 2 min minimum:
    # up. 15:00-15:03 (180 s) is an outage.
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T10:00:00"),
                     ("EQ", 0, "2026-12-01T10:00:00", "2026-12-01T10:01:30"),
                     ("EQ", 1, "2026-12-01T10:01:30", "2026-12-01T15:00:00"),
                     ("EQ", 0, "2026-12-01T15:00:00", "2026-12-01T15:03:00"),
                     ("EQ", 1, "2026-12-01T15:03:00", "2026-12-02T00:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS, timedelta(minutes=2)), start, end, end)
    assert fig.unplanned_s == 180 and fig.outages == 1 and fig.up_s == 86400 - 180
    plain = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS), start, end, end)
    assert plain.unplanned_s == 270 and plain.outages == 2


def test_a_recurring_window_across_midnight_is_planned():
    # Every Sunday 23:00-01:00 UTC. Period Sunday 29 Nov 00:00Z to Tuesday 1 Dec 00:00Z (48 h).
    # Down Sunday 22:30 to Monday 00:30: 22:30-23:00 unplanned (1,800 s), 23:00-01:00 planned
    # (7,200 s whatever the state). Up 48 h - 2 h - 30 min = 163,800 s.
    start, end = utc("2026-11-29T00:00:00"), utc("2026-12-01T00:00:00")
    sunday = RecurringWindow("patching", "UTC", parse_days("sunday"), *parse_hours("23:00-01:00"))
    data = intervals(("EQ", 1, "2026-11-25T00:00:00", "2026-11-29T22:30:00"),
                     ("EQ", 0, "2026-11-29T22:30:00", "2026-11-30T00:30:00"),
                     ("EQ", 1, "2026-11-30T00:30:00", "2026-12-01T00:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS, maintenance=(sunday,)), start, end, end)
    assert fig.planned_s == 7200
    assert fig.unplanned_s == 1800
    assert fig.up_s == 163_800
    assert fig.achieved_pct == pytest.approx(100 * 163_800 / 165_600)
    assert fig.outage_list[["unplanned_s", "planned_s"]].iloc[0].tolist() == [1800, 5400]


def test_an_annotation_reclassifies_an_outage_and_says_so():
    # A 2 h outage 10:00-12:00, annotated as planned: it leaves the budget. A second
    # annotation marks a maintenance-status hour (14:00-15:00, down) as unplanned after all,
    # and a third excludes 20:00-22:00 from service time.
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T10:00:00"),
                     ("EQ", 0, "2026-12-01T10:00:00", "2026-12-01T12:00:00"),
                     ("EQ", 1, "2026-12-01T12:00:00", "2026-12-01T14:00:00"),
                     ("EQ", 0, "2026-12-01T14:00:00", "2026-12-01T15:00:00"),
                     ("EQ", 1, "2026-12-01T15:00:00", "2026-12-02T00:00:00"))
    maintenance = windows(("EQ", "2026-12-01T14:00:00", "2026-12-01T15:00:00"))
    rules = SlaRules(99.0, ALWAYS)
    before = evaluate_sla(data, ["EQ"], rules, start, end, end, maintenance=maintenance)
    assert (before.unplanned_s, before.planned_s, before.annotations) == (7200, 3600, 0)
    notes = windows(("EQ", "2026-12-01T10:00:00", "2026-12-01T12:00:00"),
                    ("EQ", "2026-12-01T14:00:00", "2026-12-01T15:00:00"),
                    ("EQ", "2026-12-01T20:00:00", "2026-12-01T22:00:00"),
                    classification=["planned", "unplanned", "excluded"])
    after = evaluate_sla(data, ["EQ"], rules, start, end, end, maintenance=maintenance, annotations=notes)
    assert after.service_s == 22 * H
    assert (after.unplanned_s, after.planned_s, after.annotations) == (3600, 7200, 3)
    assert after.up_s == 22 * H - 3 * H


def test_a_group_is_time_weighted_over_its_equipment():
    # A up all day; B known only 00:00-12:00 (up); C up until 18:00 then down.
    # up = 86,400 + 43,200 + 64,800 = 194,400 s; unplanned 21,600 s; unknown 43,200 s.
    # achieved = 194,400 / 216,000 = 90 % (the mean of the three, 91.7 %, would be wrong);
    # coverage = 216,000 / 259,200 = 83.33 %.
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("A", 1, "2026-11-20T00:00:00", "2026-12-02T00:00:00"),
                     ("B", 1, "2026-11-20T00:00:00", "2026-12-01T12:00:00"),
                     ("C", 1, "2026-11-20T00:00:00", "2026-12-01T18:00:00"),
                     ("C", 0, "2026-12-01T18:00:00", "2026-12-02T00:00:00"))
    fig = evaluate_sla(data, ["A", "B", "C"], SlaRules(99.0, ALWAYS), start, end, end)
    assert (fig.up_s, fig.unplanned_s, fig.unknown_s) == (194_400, 21_600, 43_200)
    assert fig.achieved_pct == pytest.approx(90.0)
    assert fig.coverage_pct == pytest.approx(100 * 216_000 / 259_200)
    assert fig.per_equipment["coverage_pct"].tolist() == pytest.approx([100.0, 50.0, 100.0])


def test_a_budget_spent_exactly_at_the_period_end_is_met():
    # 99 % of one day allows 864 s; the outage 23:45:36-24:00:00 is exactly 864 s.
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T23:45:36"),
                     ("EQ", 0, "2026-12-01T23:45:36", "2026-12-02T00:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS), start, end, end)
    assert fig.budget_allowed_s == 864 and fig.budget_spent_s == 864 and fig.budget_remaining_s == 0
    assert fig.met is True and fig.at_risk is False and fig.state == "met"
    assert fig.budget_exhausted_at == end


def test_burn_rates_and_the_moment_the_budget_ran_out():
    # Target 99 %: a day allows 864 s. At 12:00 the equipment has been down since 11:30.
    # Burn over 1 h = (1,800 / 3,600) / 1 % = 50; over 6 h = 1,800 / 21,600 / 1 % = 8.33;
    # over 24 h = 1,800 / 86,400 / 1 % = 2.083. The budget ran out 864 s into the outage.
    start, end, now = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00"), utc("2026-12-01T12:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T11:30:00"),
                     ("EQ", 0, "2026-12-01T11:30:00", "2026-12-01T12:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS), start, end, now)
    assert fig.burn_rates["1h"] == pytest.approx(50)
    assert fig.burn_rates["6h"] == pytest.approx(1800 / 21600 / 0.01)
    assert fig.burn_rates["24h"] == pytest.approx(1800 / 86400 / 0.01)
    assert fig.burn_rates["5m"] == pytest.approx(100)
    assert fig.budget_exhausted_at == utc("2026-12-01T11:44:24")
    assert fig.breached and not fig.at_risk and fig.state == "breached" and fig.met is False


def test_the_forecast_date_at_the_last_days_rate():
    # December 2026 (UTC), target 99.9 %: 31 d x 86,400 s x 0.1 % = 2,678.4 s of budget.
    # 600 s were lost in the last 24 h: 2,078.4 s remain, spent at 600 s per 86,400 s:
    # 299,289.6 s after 2 Dec 00:00Z, i.e. 5 Dec 11:08:09.6Z.
    start, end, now = utc("2026-12-01T00:00:00"), utc("2027-01-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T23:50:00"),
                     ("EQ", 0, "2026-12-01T23:50:00", "2026-12-02T00:00:00"))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.9, ALWAYS), start, end, now)
    assert fig.budget_allowed_s == pytest.approx(2678.4)
    assert fig.budget_remaining_s == pytest.approx(2078.4)
    assert fig.budget_forecast_exhausted_at == utc("2026-12-05T11:08:09.600000")
    assert fig.at_risk and fig.state == "at risk"


def test_degraded_time_is_shown_or_spent_as_the_rule_says():
    # One UTC day, target 99 %. Down 10:00-11:00 (3,600 s); maintenance 09:00-09:10 (600 s
    # planned). Breached slots: 09:00-09:15 (its first 10 min are planned: 300 s degraded),
    # 10:30-10:45 (inside the outage: stays unplanned), 23:55-24:00 (300 s degraded).
    # Degraded 600 s; up = 86,400 - 600 - 3,600 - 600 = 81,600 s. Budget 1 % x 85,800 = 858 s.
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")
    data = intervals(("EQ", 1, "2026-11-20T00:00:00", "2026-12-01T10:00:00"),
                     ("EQ", 0, "2026-12-01T10:00:00", "2026-12-01T11:00:00"),
                     ("EQ", 1, "2026-12-01T11:00:00", "2026-12-02T00:00:00"))
    maintenance = windows(("EQ", "2026-12-01T09:00:00", "2026-12-01T09:10:00"))
    slots = windows(("EQ", "2026-12-01T09:00:00", "2026-12-01T09:15:00"),
                    ("EQ", "2026-12-01T10:30:00", "2026-12-01T10:45:00"),
                    ("EQ", "2026-12-01T23:55:00", "2026-12-02T00:00:00"))
    shown = DegradedRule("response_time", 500, timedelta(minutes=15))
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS, degraded=shown), start, end, end,
                       maintenance=maintenance, degraded=slots)
    assert (fig.planned_s, fig.up_s, fig.degraded_s, fig.unplanned_s, fig.unknown_s) == (600, 81_600, 600, 3600, 0)
    # Only shown: achieved = (81,600 + 600) / 85,800; the budget ran out 858 s into the outage.
    assert fig.achieved_pct == pytest.approx(100 * 82_200 / 85_800)
    assert (fig.budget_allowed_s, fig.budget_spent_s) == (858, 3600)
    assert fig.budget_exhausted_at == utc("2026-12-01T10:14:18")
    assert fig.burn_rates["1h"] == 0
    assert fig.per_equipment["degraded_s"].tolist() == [600]
    # Counted as down: 4,200 s spent, achieved 81,600 / 85,800; 300 s went at 09:10-09:15, so
    # the other 558 s ran out at 10:09:18. The last hour holds 300 s: 300 / 3,600 / 1 % = 8.33.
    down = DegradedRule("response_time", 500, timedelta(minutes=15), counts_as="down")
    fig = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS, degraded=down), start, end, end,
                       maintenance=maintenance, degraded=slots)
    assert (fig.up_s, fig.degraded_s, fig.unplanned_s, fig.budget_spent_s) == (81_600, 600, 3600, 4200)
    assert fig.achieved_pct == pytest.approx(100 * 81_600 / 85_800)
    assert fig.budget_remaining_s == pytest.approx(858 - 4200)
    assert fig.budget_exhausted_at == utc("2026-12-01T10:09:18")
    assert fig.burn_rates["1h"] == pytest.approx(300 / 3600 / 0.01)
    assert fig.outages == 1
    # Without a rule the windows are ignored.
    plain = evaluate_sla(data, ["EQ"], SlaRules(99.0, ALWAYS), start, end, end, degraded=slots)
    assert (plain.degraded_s, plain.up_s) == (0, 82_800)


def test_calendar_periods_start_at_local_midnight():
    # A month in Europe/Paris starts at 23:00Z in winter and 22:00Z in summer.
    assert period_bounds("month", utc("2026-03-15T12:00:00"), "Europe/Paris") == (
        utc("2026-02-28T23:00:00"), utc("2026-03-31T22:00:00"))
    assert period_bounds("quarter", utc("2026-08-01T00:00:00"), "Europe/Paris") == (
        utc("2026-06-30T22:00:00"), utc("2026-09-30T22:00:00"))
    assert period_bounds("year", utc("2026-12-31T23:30:00"), "Europe/Paris") == (
        utc("2026-12-31T23:00:00"), utc("2027-12-31T23:00:00"))
    # Around the clock, March 2026 in Paris lasts 31 days less the hour DST skips.
    start, end = period_bounds("month", utc("2026-03-15T12:00:00"), "Europe/Paris")
    fig = evaluate_sla(intervals(), ["EQ"], SlaRules(99.0, ServiceCalendar("paris", "Europe/Paris")), start, end, end)
    assert fig.service_s == (31 * 24 - 1) * H
    assert fig.unknown_s == fig.service_s and fig.achieved_pct is None


@pytest.mark.parametrize(("text", "message"), [
    ("25:00-26:00", "not a time range"), ("08:00", "HH:MM-HH:MM"), ("10:00-10:00", "empty"),
])
def test_bad_hours_are_refused(text, message):
    with pytest.raises(ValidationError, match=message):
        parse_hours(text)


def test_bad_days_and_targets_are_refused():
    with pytest.raises(ValidationError, match="not a day"):
        parse_days("mon-fry")
    with pytest.raises(ValidationError, match="strictly between 0 and 100"):
        SlaRules(100.0)


HOUR_NS = 3600 * 10**9
BASE = ns("2026-12-01T00:00:00")


@st.composite
def timelines(draw):
    """Random up/down/unknown timelines for two equipment over two days, random
    maintenance and annotations, all on whole minutes."""
    rows, notes, slots = [], [], []
    pieces = st.lists(st.tuples(st.integers(1, 720), st.sampled_from([1, 0, None])), max_size=20)
    for eq in ("A", "B"):
        for slot in draw(st.sets(st.integers(-48, 200), max_size=12)):  # breached 15-minute slots
            slots.append((eq, BASE + slot * 15 * 60 * 10**9, BASE + (slot + 1) * 15 * 60 * 10**9))
        t = BASE - draw(st.integers(0, 1440)) * 60 * 10**9
        for minutes, state in draw(pieces):
            if state is not None:
                rows.append((eq, state, t, t + minutes * 60 * 10**9))
            t += minutes * 60 * 10**9
        for _ in range(draw(st.integers(0, 3))):
            start = BASE + draw(st.integers(-600, 2880)) * 60 * 10**9
            notes.append((eq, start, start + draw(st.integers(1, 600)) * 60 * 10**9,
                          draw(st.sampled_from(["planned", "unplanned", "excluded"]))))
    frame = pd.DataFrame(rows, columns=["equipment_id", "state", "start", "end"])
    note = pd.DataFrame(notes, columns=["equipment_id", "start", "end", "classification"])
    return frame, note, pd.DataFrame(slots, columns=["equipment_id", "start", "end"])


@settings(max_examples=25, deadline=None)
@given(timelines(), st.integers(0, 48), st.integers(0, 10), st.sampled_from(["down", "degraded"]))
def test_invariants_hold_on_any_timeline(data, now_hours, minimum_minutes, counts_as):
    frame, notes, slots = data
    start, end = pd.Timestamp(BASE, tz="UTC"), pd.Timestamp(BASE + 48 * HOUR_NS, tz="UTC")
    now = start + pd.Timedelta(hours=now_hours)
    rules = SlaRules(99.5, business_hours(), timedelta(minutes=minimum_minutes),
                     (RecurringWindow("night", "Europe/Paris", parse_days("daily"), *parse_hours("17:00-09:00")),))
    fig = evaluate_sla(frame, ["A", "B"], rules, start, end, now, annotations=notes)
    assert fig.achieved_pct is None or 0 <= fig.achieved_pct <= 100
    assert fig.planned_s + fig.unplanned_s + fig.up_s + fig.unknown_s == pytest.approx(fig.service_s)
    # Degraded time is carved out of up time only, and spends the budget only as "down".
    rule = DegradedRule("response_time", 500, timedelta(minutes=15), counts_as=counts_as)
    slow = evaluate_sla(frame, ["A", "B"], SlaRules(99.5, rules.calendar, rules.minimum_outage, rules.maintenance,
                                                   rule), start, end, now, annotations=notes, degraded=slots)
    parts = slow.planned_s + slow.unplanned_s + slow.up_s + slow.degraded_s + slow.unknown_s
    assert parts == pytest.approx(slow.service_s) and slow.service_s == fig.service_s
    assert (slow.up_s + slow.degraded_s, slow.unplanned_s) == pytest.approx((fig.up_s, fig.unplanned_s))
    spent = fig.budget_spent_s + (slow.degraded_s if counts_as == "down" else 0)
    assert slow.budget_spent_s == pytest.approx(spent)
    # Annotations change nothing outside their span: drop the ones that miss the period.
    outside = notes[(notes["end"] <= BASE) | (notes["start"] >= BASE + 48 * HOUR_NS)]
    if len(outside):
        with_outside = evaluate_sla(frame, ["A", "B"], rules, start, end, now, annotations=outside)
        without = evaluate_sla(frame, ["A", "B"], rules, start, end, now)
        assert (with_outside.up_s, with_outside.unplanned_s, with_outside.planned_s, with_outside.service_s) == (
            without.up_s, without.unplanned_s, without.planned_s, without.service_s)


@settings(max_examples=12, deadline=None)
@given(timelines(), st.integers(1, 10), st.data())
def test_burn_rates_at_many_instants_are_what_the_engine_sees_at_each(data, minimum_minutes, draw):
    """The burn-rate rules' figures (all instants from one read) against the engine run at
    each instant on only what was known then: intervals cut there (an outage not yet as
    long as the minimum is a blip) and the degraded slots complete by then. The instants
    are drawn mostly just after an outage or a slot starts, where the two could differ."""
    frame, notes, slots = data
    rules = SlaRules(99.5, ALWAYS, timedelta(minutes=minimum_minutes),
                     degraded=DegradedRule("response_time", 500, timedelta(minutes=15), counts_as="down"))
    starts = [*frame.loc[frame["state"] == 0, "start"], *slots["start"], BASE]
    chosen = draw.draw(st.lists(st.tuples(st.sampled_from(starts), st.integers(0, 14)), min_size=1, max_size=4))
    ends = np.unique(np.array([start + minutes * 60 * 10**9 for start, minutes in chosen], dtype="int64"))
    sums = burn_window_sums(frame, ["A"], rules, ends, [timedelta(hours=1), timedelta(minutes=5)],
                            annotations=notes, degraded=slots)
    for k, end in enumerate(ends):
        known = frame[frame["start"] < end].copy()
        known["end"] = known["end"].clip(upper=end)
        now = pd.Timestamp(end, tz="UTC").to_pydatetime()
        fig = evaluate_sla(known, ["A"], rules, now - timedelta(days=1), now + timedelta(days=1), now,
                           annotations=notes, degraded=slots[slots["end"] <= end])
        for window, name in ((timedelta(hours=1), "1h"), (timedelta(minutes=5), "5m")):
            expected = fig.burn_rates[name]
            got = burn_rate(sums[window], 99.5)[k, 0]
            assert (expected is None and np.isnan(got)) or got == pytest.approx(expected, abs=1e-9)

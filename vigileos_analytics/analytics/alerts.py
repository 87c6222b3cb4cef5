"""Evaluating alert rules over the fleet, and keeping alerts in the store.

**Evaluation** (:mod:`.alert_eval`) asks the store for slot aggregates (one
``aggregate`` call per rule, all equipment at once) and gives each (equipment, rule)
a state: ``firing``, ``ok``, ``low coverage`` (too little of the window holds data:
nothing changes), ``no data`` (no point in the window) or ``error`` (the rule or that
equipment could not be evaluated: reported, nothing changes). It is deterministic
given ``now`` (UTC): windows end at the last complete ``every``-slot before ``now``.
One rule or one equipment failing never stops the others; a store that cannot be
reached does (``StoreConnectionError``).

**Storage shape.** Alerts are ordinary points, so every backend keeps them through
the ``MetricsStore`` protocol alone:

- ``metric_type`` ``alert``, the alert's ``equipment_id``, ``time`` = the check's ``now``;
- ``value`` = the rule's value at that time (a mean in the metric's unit, a slope per
  day, an anomaly score in [0, 1], or a burn rate over the long window); a "no data"
  resolution keeps the raised value;
- tags ``rule``, ``severity``, ``state`` (``firing`` or ``resolved``), ``message``
  (at most :data:`MAX_MESSAGE` characters) and, on resolved points, ``reason``
  (``cleared`` or ``no data``).

One point is written when a condition starts (``firing``) and one when it clears
(``resolved``: the condition is false, or the window holds no point at all); nothing
is written while it goes on, so repeated checks do not raise it again. The current
state of each (equipment, rule) is its newest alert point, read with ``store.latest``.

A burn-rate rule's alerts are per equipment of its SLA's scope too, so ``alerts list``,
the API and the dashboards show them as any other; a group burning its budget shows as
the equipment that burn it.

**Replay** (:func:`replay_alerts`) evaluates the rules at every instant of a period
with one aggregation per rule, and writes the points that a check at each instant, in
time order, would have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import StoreConnectionError, ValidationError
from ..schema import ALERT as ALERT_METRIC
from ..schema import to_utc
from ..stores.base import MetricsStore, Selection
from .alert_eval import ERROR, FIRING, LOW_COVERAGE, NO_DATA, OK, STATES, SlaSource, evaluate_ends
from .alert_rules import AlertRule, _text

__all__ = ["ALERT_METRIC", "MAX_MESSAGE", "STATES", "FIRING", "OK", "LOW_COVERAGE", "NO_DATA", "ERROR",
           "AlertCheck", "AlertReplay", "SlaSource", "evaluate_rules", "check_alerts", "replay_alerts",
           "current_alerts", "list_alerts"]

MAX_MESSAGE = 200
MAX_INSTANTS = 100_000
RESOLVED = "resolved"
_CONDITION_COLUMNS = ["time", "equipment_id", "rule", "severity", "state", "value", "coverage", "firing",
                      "message"]
_FAILURE_COLUMNS = ["rule", "equipment_id", "error"]


def _floor(times: pd.DatetimeIndex, every: timedelta) -> np.ndarray:
    step = int(every.total_seconds() * 1e9)
    return times.as_unit("ns").asi8 // step * step


def _evaluate_rule(store: MetricsStore, rule: AlertRule, instants: pd.DatetimeIndex,
                   equipment_ids: Sequence[str] | None, extra_ids: Sequence[str], slas: SlaSource) -> pd.DataFrame:
    """The rule at each instant (one row per instant and equipment); a failure of the
    whole rule is one ``error`` row with an empty equipment_id."""
    ends = _floor(instants, rule.every)
    try:
        frame = evaluate_ends(store, rule, ends, equipment_ids, extra_ids, slas=slas)
    except StoreConnectionError:
        raise
    except Exception as exc:  # a rule that cannot be evaluated must not stop the others
        frame = pd.DataFrame({"end": pd.to_datetime([ends[0]], utc=True), "equipment_id": [""], "state": [ERROR],
                              "value": [np.nan], "coverage": [np.nan], "detail": [np.nan],
                              "error": [f"{type(exc).__name__}: {exc}"]})
        instants = instants[:1]
        ends = ends[:1]
    at = pd.DataFrame({"time": instants, "end": pd.to_datetime(ends, utc=True)})
    return at.merge(frame, on="end", how="inner").assign(rule=rule.name, severity=rule.severity)


def _messages(rule: AlertRule, frame: pd.DataFrame) -> list[str]:
    """What each row says, in the metric's unit (times UTC)."""
    out = []
    span = _text(rule.window)
    for state, value, coverage, detail, error, end in zip(frame["state"], frame["value"], frame["coverage"],
                                                          frame["detail"], frame["error"], frame["end"], strict=True):
        if state == ERROR:
            out.append(f"could not evaluate: {error}")
        elif state == NO_DATA:
            out.append(f"no data: no {rule.metric} point in the {span} before {end:%Y-%m-%d %H:%M} UTC")
        elif state == LOW_COVERAGE:
            out.append(f"low coverage: {coverage:.0%} of the {span} window holds {rule.metric} data "
                       f"(needs {rule.min_coverage:.0%})")
        elif rule.kind == "threshold":
            out.append(f"{rule.function} {rule.metric} over {span} is {value:.2f}, {rule.operator} "
                       f"{rule.threshold:g}" if state == FIRING else
                       f"{rule.function} {rule.metric} over {span} is {value:.2f}")
        elif rule.kind == "burn_rate":
            out.append(_burn_message(rule, state, value, detail))
        elif rule.kind == "trend":
            text = f"{rule.metric} {rule.direction} {value:+.2f}/day over {span}"
            if rule.threshold is not None and np.isfinite(detail):
                when = end + pd.Timedelta(days=float(min(detail, 3650)))
                text += f"; forecast to cross {rule.threshold:g} at {when:%Y-%m-%d %H:%M} UTC"
            out.append(text)
        else:
            out.append(f"{rule.metric} mean of {_text(rule.every)} is {detail:.2f}: anomaly score {value:.2f} "
                       f"(limit {rule.threshold:g})")
    return [text[:MAX_MESSAGE] for text in out]


def _burn_message(rule: AlertRule, state: str, value: float, detail: float) -> str:
    assert rule.short_window is not None  # a burn_rate rule always has one
    short = "nothing (no service time)" if not np.isfinite(detail) else f"{detail:.1f}×"
    text = (f"SLA {rule.sla} budget burning {value:.1f}× over {_text(rule.window)} and {short} over "
            f"{_text(rule.short_window)}")
    return text + (f" (fires at {rule.factor:g}×)" if state == FIRING else f"; fires when both reach {rule.factor:g}×")


def _conditions(store: MetricsStore, rules: Sequence[AlertRule], instants: pd.DatetimeIndex,
                equipment_ids: Sequence[str] | None, open_ids: dict[str, list[str]],
                *, with_messages: bool, slas: SlaSource | None = None) -> pd.DataFrame:
    parts = []
    source = slas or SlaSource()
    source.clear_inputs()
    # Burn-rate rules on one SLA share its inputs: the longest window reads them first.
    ordered = sorted(rules, key=lambda r: -r.window.total_seconds() if r.kind == "burn_rate" else 0)
    with store.session():
        for rule in ordered:  # a handful of rules; each is one aggregate over the fleet and the period
            part = _evaluate_rule(store, rule, instants, equipment_ids, open_ids.get(rule.name, []), source)
            part["message"] = _messages(rule, part) if with_messages else ""
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[*_CONDITION_COLUMNS, "end", "detail", "error"])
    frame["firing"] = frame["state"].eq(FIRING)
    return frame.sort_values(["time", "equipment_id", "rule"], kind="stable").reset_index(drop=True)


def _failures(conditions: pd.DataFrame) -> pd.DataFrame:
    failed = conditions[conditions["state"] == ERROR]
    return failed.drop_duplicates(["rule", "equipment_id"])[_FAILURE_COLUMNS].reset_index(drop=True)


def _open_alerts(store: MetricsStore, rules: Sequence[AlertRule], at: datetime,
                 equipment_ids: Sequence[str] | None) -> pd.DataFrame:
    open_now = current_alerts(store, at)
    open_now = open_now[open_now["rule"].isin({r.name for r in rules})]
    if equipment_ids:
        open_now = open_now[open_now["equipment_id"].isin(list(equipment_ids))]
    return open_now


def _with_known_equipment(store: MetricsStore, rules: Sequence[AlertRule], at: datetime,
                          equipment_ids: Sequence[str] | None, open_now: pd.DataFrame) -> dict[str, list[str]]:
    """Per rule, the equipment to show even without data in the window: those with the
    metric before ``at`` (shown as ``no data``) and those with an open alert. A burn-rate
    rule shows its SLA's scope anyway: only its open alerts are added."""
    out = {}
    for rule in rules:
        ids = set(open_now.loc[open_now["rule"] == rule.name, "equipment_id"])
        if rule.kind != "burn_rate":
            latest = store.latest(equipment_ids=equipment_ids, metric_types=(rule.metric,), before=at)
            ids |= set(latest["equipment_id"].astype(str))
        out[rule.name] = sorted(ids)
    return out


def evaluate_rules(store: MetricsStore, rules: Sequence[AlertRule], now: datetime,
                   equipment_ids: Sequence[str] | None = None, *, slas: SlaSource | None = None) -> pd.DataFrame:
    """Each rule's state, value and coverage per equipment at ``now`` (aware, converted to UTC).

    Columns: time, equipment_id, rule, severity, state (:data:`STATES`), value, coverage
    (0 to 1), firing (bool), message. Equipment with the metric but no point in the
    window are ``no data``; a rule that failed as a whole is one ``error`` row with an
    empty equipment_id. ``slas`` serves burn-rate rules (their SLA file and inventory).
    """
    now = to_utc(now, "now")
    known = _with_known_equipment(store, rules, now, equipment_ids, _open_alerts(store, rules, now, equipment_ids))
    frame = _conditions(store, rules, pd.DatetimeIndex([pd.Timestamp(now)]), equipment_ids, known,
                        with_messages=True, slas=slas)
    return frame[_CONDITION_COLUMNS].sort_values(["equipment_id", "rule"], kind="stable").reset_index(drop=True)


def _transitions(conditions: pd.DataFrame, open_now: pd.DataFrame) -> pd.DataFrame:
    """Raise and resolve rows of ``conditions`` (rows at many instants), in time order,
    from the alerts open before the first instant: a firing row raises a closed alert,
    an ``ok`` or ``no data`` row resolves an open one, other states change nothing.
    Adds ``was_open`` (before this row), ``since`` and ``open_value`` (of the open alert)."""
    key = ["equipment_id", "rule"]
    initial = open_now[key + ["time", "value"]].rename(columns={"time": "since0", "value": "value0"})
    frame = conditions.merge(initial, on=key, how="left").sort_values(key + ["time"], kind="stable")
    start = frame["since0"].notna().astype("float64")
    wanted = frame["state"].map({FIRING: 1.0, OK: 0.0, NO_DATA: 0.0})
    held = wanted.groupby([frame[k] for k in key], sort=False).ffill().fillna(start)
    before = held.groupby([frame[k] for k in key], sort=False).shift(1).fillna(start)
    frame["was_open"] = before.eq(1.0)
    frame["event"] = np.where(held.eq(1.0) & before.eq(0.0), FIRING,
                              np.where(held.eq(0.0) & before.eq(1.0), RESOLVED, ""))
    raised = frame["event"].eq(FIRING)
    since = pd.Series(frame["time"].where(raised), index=frame.index)
    frame["since"] = since.groupby([frame[k] for k in key], sort=False).ffill().fillna(frame["since0"])
    value = frame["value"].where(raised)
    frame["open_value"] = value.groupby([frame[k] for k in key], sort=False).ffill().fillna(frame["value0"])
    return frame.drop(columns=["since0", "value0"])


def _event_messages(events: pd.DataFrame) -> pd.Series:
    """The stored message: a resolution that cleared says so; a "no data" one says why."""
    plain = events["message"].astype(object)
    cleared = events["event"].eq(RESOLVED) & ~events["state"].eq(NO_DATA)
    return plain.where(~cleared, "cleared: " + plain.astype(str)).astype(object)


def _write_events(store: MetricsStore, events: pd.DataFrame) -> None:
    if events.empty:
        return
    resolved = events["event"].eq(RESOLVED)
    no_data = resolved & events["state"].eq(NO_DATA)
    message = _event_messages(events)
    store.write_frame(pd.DataFrame({
        "time": events["time"].to_numpy(), "equipment_id": events["equipment_id"].astype(str).to_numpy(),
        "metric_type": ALERT_METRIC,
        "value": np.where(no_data, events["open_value"], events["value"]).astype("float64"),
        "rule": events["rule"].to_numpy(), "severity": events["severity"].to_numpy(),
        "state": events["event"].to_numpy(), "message": message.str.slice(0, MAX_MESSAGE).to_numpy(),
        "reason": pd.Series(np.where(no_data, NO_DATA, "cleared"), dtype=object).where(resolved.to_numpy()),
    }))


def _alert_frame(raw: pd.DataFrame) -> pd.DataFrame:
    tags = list(raw["tags"]) if "tags" in raw else []

    def tag(name: str) -> pd.Series:
        return pd.Series([t.get(name, "") for t in tags], dtype="str")

    return pd.DataFrame({
        "time": pd.to_datetime(raw["time"], utc=True).reset_index(drop=True),
        "equipment_id": raw["equipment_id"].astype("str").reset_index(drop=True),
        "rule": tag("rule"), "severity": tag("severity"), "state": tag("state"),
        "value": raw["value"].astype("float64").reset_index(drop=True), "message": tag("message"),
    })


def current_alerts(store: MetricsStore, now: datetime | None = None, *, firing_only: bool = True) -> pd.DataFrame:
    """The newest alert point per (equipment, rule) before or at ``now``: time (when it
    started or cleared, UTC), equipment_id, rule, severity, state, value, message."""
    before = None if now is None else to_utc(now, "now") + timedelta(microseconds=1)
    latest = _alert_frame(store.latest(metric_types=(ALERT_METRIC,), before=before))
    latest = latest.sort_values("time", kind="stable").groupby(["equipment_id", "rule"], as_index=False).last()
    if firing_only:
        latest = latest[latest["state"] == FIRING]
    return latest.sort_values(["equipment_id", "rule"], kind="stable").reset_index(drop=True)


def list_alerts(store: MetricsStore, start: datetime, end: datetime, *, state: str | None = None,
                equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Alert events (raised and resolved) over [start, end) (UTC), newest first."""
    raw = store.query(Selection(start, end, equipment_ids=tuple(equipment_ids) if equipment_ids else None,
                                metric_types=(ALERT_METRIC,)))
    events = _alert_frame(raw)
    if state is not None:
        events = events[events["state"] == state]
    return events.sort_values(["time", "equipment_id", "rule"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class AlertCheck:
    """Outcome of one check at ``now``: ``raised`` and ``resolved`` were written to the
    store; ``ongoing`` were already firing (``since`` when); ``conditions`` holds every
    evaluated (equipment, rule) with its state; ``failures`` the rules or equipment that
    could not be evaluated (rule, equipment_id — empty for the whole rule —, error)."""

    now: datetime
    raised: pd.DataFrame
    ongoing: pd.DataFrame
    resolved: pd.DataFrame
    conditions: pd.DataFrame
    failures: pd.DataFrame

    @property
    def no_data(self) -> pd.DataFrame:
        """(equipment, rule) without any point in the rule's window."""
        return self.conditions[self.conditions["state"] == NO_DATA].reset_index(drop=True)

    def _repr_html_(self) -> str:
        from .html_display import alert_check_html

        return alert_check_html(self)


def check_alerts(store: MetricsStore, rules: Sequence[AlertRule], now: datetime,
                 equipment_ids: Sequence[str] | None = None, *, slas: SlaSource | None = None) -> AlertCheck:
    """Evaluate ``rules`` at ``now`` and record state changes as alert points (see the module docstring);
    ``slas`` serves burn-rate rules (their SLA file and inventory)."""
    now = to_utc(now, "now")
    open_now = _open_alerts(store, rules, now, equipment_ids)
    known = _with_known_equipment(store, rules, now, equipment_ids, open_now)
    conditions = _conditions(store, rules, pd.DatetimeIndex([pd.Timestamp(now)]), equipment_ids, known,
                             with_messages=True, slas=slas)
    steps = _transitions(conditions, open_now)
    _write_events(store, steps[steps["event"] != ""])
    shown = ["equipment_id", "rule", "severity", "state", "value", "coverage", "message"]
    raised = steps[steps["event"] == FIRING][shown]
    ongoing = steps[(steps["event"] == "") & steps["firing"] & steps["was_open"]][shown + ["since"]]
    resolved = steps[steps["event"] == RESOLVED][shown]
    return AlertCheck(now=now, raised=raised.reset_index(drop=True), ongoing=ongoing.reset_index(drop=True),
                      resolved=resolved.reset_index(drop=True),
                      conditions=conditions[_CONDITION_COLUMNS].sort_values(["equipment_id", "rule"], kind="stable")
                      .reset_index(drop=True), failures=_failures(conditions))


@dataclass(frozen=True)
class AlertReplay:
    """Outcome of :func:`replay_alerts`: ``events`` are the alert points written (or, with
    ``dry_run``, that would be), oldest first (time, equipment_id, rule, severity, state,
    value, message); ``failures`` as in :class:`AlertCheck`."""

    start: datetime
    end: datetime
    every: timedelta
    instants: int
    events: pd.DataFrame
    failures: pd.DataFrame
    dry_run: bool

    def _repr_html_(self) -> str:
        from .html_display import alert_replay_html

        return alert_replay_html(self)


def _instants(start: datetime, end: datetime, every: timedelta) -> pd.DatetimeIndex:
    start, end = to_utc(start, "start"), to_utc(end, "end")
    if every <= timedelta(0):
        raise ValidationError(f"every must be a positive duration such as 1h; got {every}.", field="every")
    if end <= start:
        raise ValidationError(f"the replay's end must be after its start; got start {start:%Y-%m-%d %H:%M} "
                              f"and end {end:%Y-%m-%d %H:%M} UTC.", field="end")
    count = int((end - start) / every) + 1
    if count > MAX_INSTANTS:
        raise ValidationError(f"a replay evaluates at most {MAX_INSTANTS:,} instants; {start:%Y-%m-%d} to "
                              f"{end:%Y-%m-%d} every {_text(every)} is {count:,}. Use a longer --every or a "
                              "shorter period.", field="every")
    instants = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=pd.Timedelta(every), inclusive="left")
    return instants.as_unit("ns")


def replay_alerts(store: MetricsStore, rules: Sequence[AlertRule], start: datetime, end: datetime,
                  every: timedelta, equipment_ids: Sequence[str] | None = None, *,
                  dry_run: bool = False, slas: SlaSource | None = None) -> AlertReplay:
    """Evaluate ``rules`` at ``start``, ``start + every``, ... before ``end`` (UTC) and write
    the alert points that :func:`check_alerts` at each of those instants, in time order,
    would have written. Refused (ValidationError) when the store already holds alert
    points of these rules after ``start`` in the period, unless ``dry_run``."""
    instants = _instants(start, end, every)
    first = instants[0].to_pydatetime()
    if not dry_run:
        _refuse_existing(store, rules, instants, equipment_ids)
    open_now = _open_alerts(store, rules, first, equipment_ids)
    open_ids = {r.name: sorted(open_now.loc[open_now["rule"] == r.name, "equipment_id"]) for r in rules}
    conditions = _conditions(store, rules, instants, equipment_ids, open_ids, with_messages=False, slas=slas)
    steps = _transitions(conditions, open_now)
    events = steps[steps["event"] != ""].copy()
    by_rule = {r.name: r for r in rules}
    events["message"] = pd.Series([""] * len(events), index=events.index, dtype=object)
    for name, part in events.groupby("rule", sort=False):
        events.loc[part.index, "message"] = _messages(by_rule[str(name)], part)
    events = events.sort_values(["time", "equipment_id", "rule"], kind="stable")
    if not dry_run:
        _write_events(store, events)
    no_data = events["event"].eq(RESOLVED) & events["state"].eq(NO_DATA)
    shown = pd.DataFrame({
        "time": events["time"], "equipment_id": events["equipment_id"], "rule": events["rule"],
        "severity": events["severity"], "state": events["event"],
        "value": np.where(no_data, events["open_value"], events["value"]).astype("float64"),
        "message": _event_messages(events),
    }).reset_index(drop=True)
    return AlertReplay(start=instants[0].to_pydatetime(), end=to_utc(end, "end"), every=every,
                       instants=len(instants), events=shown, failures=_failures(conditions), dry_run=dry_run)


def _refuse_existing(store: MetricsStore, rules: Sequence[AlertRule], instants: pd.DatetimeIndex,
                     equipment_ids: Sequence[str] | None) -> None:
    after = instants[0] + pd.Timedelta(microseconds=1)
    stop = instants[-1] + pd.Timedelta(microseconds=1)
    if stop <= after:
        return
    existing = list_alerts(store, after.to_pydatetime(), stop.to_pydatetime(), equipment_ids=equipment_ids)
    existing = existing[existing["rule"].isin({r.name for r in rules})]
    if not existing.empty:
        oldest = existing["time"].min()
        raise ValidationError(
            f"the store already holds {len(existing):,} alert points of these rules in the replayed period "
            f"(the oldest at {oldest:%Y-%m-%d %H:%M} UTC); a replay writes history only where there is none. "
            "Start the replay after them, or use --dry-run to see what it would write.", field="start")

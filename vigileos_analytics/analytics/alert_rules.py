"""Alert rules: what they say, and reading them from YAML with clear errors.

A rules file holds a list under ``rules``; every rule has a ``name`` (unique),
a ``kind``, a ``metric`` (not for ``burn_rate``), a ``severity`` (``info``, ``warning`` or ``critical``) and
a ``window``. Durations are text (``15m``, ``1h``, ``7d``); times are UTC.

Every rule reads its metric in ``every``-slots aligned to the UTC epoch, and is
evaluated at ``now`` over the window that ends at the last complete slot:
``[floor(now, every) - window, floor(now, every))``. The window must be a whole
number of slots. Fields every kind has besides the common ones:

``every``
    the slot (default ``1h``; ``5m`` for a threshold rule whose window is under 12 h).
``min_coverage``
    the share of the window's slots that must hold at least one point, from 0 to 1
    (default ``0.5``). Below it the rule is in the state ``low coverage``: it neither
    raises nor resolves (a series that began an hour ago does not fire a 7-day rule).
    With no point at all in the window the state is ``no data``, and an alert still
    firing is resolved with the reason "no data".

Kinds and their own fields:

``threshold``
    ``function`` of the metric over the window (``mean``, ``max``, ``min``, ``p95``,
    ``last``) compared with ``threshold`` by ``operator`` (``above`` or ``below``). The
    seed's "7-day CPU average above 80 %" is one.
``trend``
    least-squares slope of the slots' means over the window, in the metric's unit per
    day; fires when it rises faster than ``rate_per_day`` (or falls faster, with
    ``direction: falling``) and at least ``min_points`` slots hold data. Reports when the
    fitted line crosses ``threshold`` (if given) and may require that crossing within
    ``horizon``.
``anomaly``
    the score in [0, 1] of :func:`vigileos_analytics.analytics.anomaly.score_series` for
    the newest slot mean of the window; fires when it reaches ``threshold`` (default
    ``anomaly.THRESHOLD``, 0.5). The scorer is given the slot means from the start of
    the UTC-aligned ``window``-long block before the window's start (between one and two
    windows of history); the scorer is causal, so a replay scores each block once. The
    window should hold more slots than the scorer's warm-up (``AnomalyParams.min_history``
    points). The scorer marks an episode's first point, so such an alert usually clears
    at the next slot.
    The former field ``z`` (a robust z-score) has no equivalent on the score: a rule
    that still has it is refused, saying what to write instead.
``burn_rate``
    the error-budget burn rate of an SLA of the SLA file (``sla``: its name), per
    equipment of its scope, with its calendar, target, minimum outage, maintenance,
    degraded rule and annotations (:mod:`.sla_burn`); fires when the rate over both
    ``long_window`` and ``short_window`` is at least ``factor`` (the multi-window rule of
    the SRE workbook: the long window says enough budget went, the short one that it
    is still going, so the alert clears soon after the outage ends). ``window`` is the
    long window; ``every`` defaults to 1m and must divide both windows; ``min_coverage``
    is the share of the long window's eligible service time whose availability is
    known. A long window without service time is ``ok`` (nothing can burn). No
    ``metric``: it reads availability. An SLA file that cannot be read, or an SLA it
    does not define, puts the rule in the state ``error``, naming the file and the SLA.

Example (``parameters/alert_rules.yaml``)::

    rules:
      - name: cpu_high_7d
        kind: threshold
        metric: cpu_usage
        window: 7d
        threshold: 80
        min_coverage: 0.5
        severity: warning
      - name: sla_fast_burn
        kind: burn_rate
        sla: servers-business-hours
        long_window: 1h
        short_window: 5m
        factor: 14.4
        severity: critical
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigurationError, ValidationError
from ..schema import AVAILABILITY, validate_metric_type
from ..timeparse import parse_duration

__all__ = ["AlertRule", "SEVERITIES", "KINDS", "MIN_COVERAGE", "load_rules", "parse_rules"]

SEVERITIES = ("info", "warning", "critical")
KINDS = ("threshold", "trend", "anomaly", "burn_rate")
FUNCTIONS = ("mean", "max", "min", "p95", "last")

_COMMON = {"name", "kind", "metric", "severity", "description", "window", "every", "min_coverage"}
_FIELDS = {
    "threshold": _COMMON | {"function", "operator", "threshold"},
    "trend": _COMMON | {"rate_per_day", "direction", "threshold", "horizon", "min_points"},
    "anomaly": _COMMON | {"threshold"},
    "burn_rate": (_COMMON - {"metric", "window"}) | {"sla", "long_window", "short_window", "factor"},
}
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class AlertRule:
    """One validated rule; durations are timedeltas, numbers in the metric's unit."""

    name: str
    kind: str
    metric: str
    severity: str
    window: timedelta
    description: str = ""
    function: str = "mean"
    operator: str = "above"
    threshold: float | None = None
    every: timedelta = timedelta(hours=1)
    rate_per_day: float = 0.0
    direction: str = "rising"
    horizon: timedelta | None = None
    min_points: int = 6
    min_coverage: float = MIN_COVERAGE
    sla: str = ""
    short_window: timedelta | None = None
    factor: float = 0.0

    @property
    def slots(self) -> int:
        """Slots of ``every`` in the window."""
        return int(self.window / self.every)


def _fail(rule: str, field: str, expected: str, got: Any, source: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: rule {rule!r}, field {field!r} must be {expected}; got {got!r}. "
                              "Fix the rules file and run the command again.")


def _number(raw: dict, name: str, field: str, source: str, *, required: bool, positive: bool = False) -> float | None:
    if field not in raw:
        if required:
            raise _fail(name, field, "given (a number)", None, source)
        return None
    value = raw[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _fail(name, field, "a number", value, source)
    if positive and value <= 0:
        raise _fail(name, field, "a positive number", value, source)
    return float(value)


def _required_number(raw: dict, name: str, field: str, source: str, *, positive: bool = False) -> float:
    value = _number(raw, name, field, source, required=True, positive=positive)
    assert value is not None  # _number raises when a required field is missing
    return value


def _duration(raw: dict, name: str, field: str, source: str, default: timedelta | None) -> timedelta | None:
    if field not in raw:
        if default is None and field == "window":
            raise _fail(name, field, "given (a duration such as '7d')", None, source)
        return default
    try:
        return parse_duration(str(raw[field]), field)
    except ValidationError:
        raise _fail(name, field, "a duration such as '15m', '1h' or '7d'", raw[field], source) from None


def _choice(raw: dict, name: str, field: str, choices: tuple[str, ...], default: str | None, source: str) -> str:
    value = raw.get(field, default)
    if value not in choices:
        raise _fail(name, field, f"one of {', '.join(choices)}", value, source)
    return value


def _every(raw: dict, name: str, kind: str, window: timedelta, source: str) -> timedelta:
    default = timedelta(minutes=5) if kind == "threshold" and window < timedelta(hours=12) else timedelta(hours=1)
    if kind == "burn_rate":
        default = timedelta(minutes=1)
    every = _duration(raw, name, "every", source, default) or default
    if every > window or (window % every) != timedelta(0):
        raise _fail(name, "every", f"a duration that divides the window ({_text(window)}) into whole slots",
                    raw.get("every", _text(every)), source)
    return every


def _text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _anomaly_threshold(raw: dict, name: str, source: str) -> float:
    from .anomaly import THRESHOLD

    if "z" in raw:
        raise ConfigurationError(
            f"{source}: rule {name!r}, field 'z' is no longer read: anomaly rules fire on the anomaly scorer's "
            f"score in [0, 1]; got z: {raw['z']!r}. Replace it by 'threshold: {THRESHOLD:g}' (the scorer's "
            "documented threshold; higher is stricter), or remove it for that default.")
    value = _number(raw, name, "threshold", source, required=False)
    if value is None:
        return THRESHOLD
    if not 0 < value <= 1:
        raise _fail(name, "threshold", "a score in (0, 1], such as 0.5", raw["threshold"], source)
    return value


def _parse_rule(raw: Any, position: int, source: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: rule #{position + 1} must be a mapping of fields; got {raw!r}.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise _fail(f"#{position + 1}", "name", "a non-empty string of at most 64 characters", name, source)
    kind = _choice(raw, name, "kind", KINDS, None, source)
    unknown = sorted(set(raw) - _FIELDS[kind] - ({"z"} if kind == "anomaly" else set()))
    if unknown:
        raise _fail(name, unknown[0], f"one of the fields of a {kind} rule ({', '.join(sorted(_FIELDS[kind]))})",
                    unknown[0], source)
    if kind == "burn_rate":
        return _burn_rate_rule(raw, name, source)
    try:
        metric = validate_metric_type(raw.get("metric"))
    except ValidationError:
        raise _fail(name, "metric", "a metric type such as 'cpu_usage'", raw.get("metric"), source) from None
    window = _duration(raw, name, "window", source, None)
    assert window is not None  # _duration raises when the window is missing
    coverage = _number(raw, name, "min_coverage", source, required=False)
    if coverage is not None and not 0 <= coverage <= 1:
        raise _fail(name, "min_coverage", "a share from 0 to 1, such as 0.5 for 50 %", raw["min_coverage"], source)
    common: dict[str, Any] = dict(
        name=name, kind=kind, metric=metric, severity=_choice(raw, name, "severity", SEVERITIES, None, source),
        window=window, description=str(raw.get("description", "")), every=_every(raw, name, kind, window, source),
        min_coverage=MIN_COVERAGE if coverage is None else coverage)
    if kind == "threshold":
        return AlertRule(**common, function=_choice(raw, name, "function", FUNCTIONS, "mean", source),
                         operator=_choice(raw, name, "operator", ("above", "below"), "above", source),
                         threshold=_required_number(raw, name, "threshold", source))
    if common["every"] >= window:
        raise _fail(name, "every", f"shorter than the window ({raw.get('window')})", raw.get("every", "1h"), source)
    if kind == "anomaly":
        return AlertRule(**common, threshold=_anomaly_threshold(raw, name, source))
    min_points = raw.get("min_points", 6)
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
        raise _fail(name, "min_points", "a whole number of at least 3", min_points, source)
    return AlertRule(**common, min_points=min_points,
                     rate_per_day=_required_number(raw, name, "rate_per_day", source, positive=True),
                     direction=_choice(raw, name, "direction", ("rising", "falling"), "rising", source),
                     threshold=_number(raw, name, "threshold", source, required=False),
                     horizon=_duration(raw, name, "horizon", source, None))


def _burn_rate_rule(raw: dict, name: str, source: str) -> AlertRule:
    sla = raw.get("sla")
    if not isinstance(sla, str) or not sla.strip():
        raise _fail(name, "sla", "the name of an SLA of the SLA file (VIGILEOS_SLAS)", sla, source)
    windows = {}
    for field in ("long_window", "short_window"):
        if field not in raw:
            raise _fail(name, field, "given (a duration such as '1h')", None, source)
        windows[field] = _duration(raw, name, field, source, None)
    long, short = windows["long_window"], windows["short_window"]
    assert long is not None and short is not None  # both were given and parsed
    if short >= long:
        raise _fail(name, "short_window", f"shorter than long_window ({_text(long)})", raw["short_window"], source)
    every = _every(raw, name, "burn_rate", short, source)
    if long % every:
        raise _fail(name, "every", f"a duration that divides long_window ({_text(long)}) into whole slots",
                    raw.get("every"), source)
    coverage = _number(raw, name, "min_coverage", source, required=False)
    if coverage is not None and not 0 <= coverage <= 1:
        raise _fail(name, "min_coverage", "a share from 0 to 1, such as 0.5 for 50 %", raw["min_coverage"], source)
    return AlertRule(name=name, kind="burn_rate", metric=AVAILABILITY,
                     severity=_choice(raw, name, "severity", SEVERITIES, None, source), window=long,
                     description=str(raw.get("description", "")), every=every,
                     min_coverage=MIN_COVERAGE if coverage is None else coverage, sla=sla.strip(),
                     short_window=short, factor=_required_number(raw, name, "factor", source, positive=True))


def parse_rules(document: Any, source: str = "alert rules") -> list[AlertRule]:
    """Validate a parsed YAML document (``{"rules": [...]}``) into rules."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list) or not document["rules"]:
        raise ConfigurationError(f"{source}: expected a mapping with a non-empty list under 'rules'; "
                                 f"got {type(document).__name__}. See the default rules (`vigileos templates copy DIR` "
                                 "writes them to DIR/parameters/alert_rules.yaml) for an example.")
    rules = [_parse_rule(raw, i, source) for i, raw in enumerate(document["rules"])]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigurationError(f"{source}: rule names must be unique; {rule.name!r} appears twice. "
                                     "Rename one of them.")
        seen.add(rule.name)
    return rules


def load_rules(path: str | Path | None = None) -> list[AlertRule]:
    """Read and validate a rules file (default: ``VIGILEOS_ALERT_RULES``, else the rules that come with
    the package); every problem is a ConfigurationError naming the rule and field."""
    if path is None:
        from ..templates import alert_rules_path

        path = alert_rules_path()
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"alert rules file {path} does not exist; pass --rules PATH, or unset "
                                 "VIGILEOS_ALERT_RULES to use the rules that come with the package "
                                 "(`vigileos templates copy DIR` makes an editable copy of them).") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from exc
    return parse_rules(document, str(path))

"""Alert rules: what they say, and reading them from YAML with clear errors.

A rules file holds a list under ``rules``; every rule has a ``name`` (unique),
a ``kind``, a ``metric`` and a ``severity`` (``info``, ``warning`` or
``critical``). Kinds and their fields (durations as text: ``15m``, ``1h``, ``7d``):

``threshold``
    ``function`` of the metric over the last ``window`` (``mean``, ``max``, ``min``,
    ``p95``, ``last``) compared with ``threshold`` by ``operator`` (``above`` or
    ``below``). The seed's "7-day CPU average above 80 %" is one.
``trend``
    least-squares slope of ``every``-window means over the last ``window``, in the
    metric's unit per day; fires when it rises faster than ``rate_per_day`` (or falls
    faster, with ``direction: falling``). Reports when the fitted line crosses
    ``threshold`` (if given) and may require that crossing within ``horizon``.
``anomaly``
    robust z-score of the last complete ``every``-window mean against the median and
    MAD of the windows in the ``window`` before it; fires when ``|z| >= z``.

Example (``parameters/alert_rules.yaml``)::

    rules:
      - name: cpu_high_7d
        kind: threshold
        metric: cpu_usage
        window: 7d
        threshold: 80
        severity: warning
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigurationError, ValidationError
from ..schema import validate_metric_type
from ..timeparse import parse_duration

__all__ = ["AlertRule", "SEVERITIES", "KINDS", "load_rules", "parse_rules"]

SEVERITIES = ("info", "warning", "critical")
KINDS = ("threshold", "trend", "anomaly")
FUNCTIONS = ("mean", "max", "min", "p95", "last")

_COMMON = {"name", "kind", "metric", "severity", "description"}
_FIELDS = {
    "threshold": _COMMON | {"window", "function", "operator", "threshold"},
    "trend": _COMMON | {"window", "every", "rate_per_day", "direction", "threshold", "horizon", "min_points"},
    "anomaly": _COMMON | {"window", "every", "z", "min_points"},
}


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
    z: float = 4.0
    min_points: int = 6


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


def _parse_rule(raw: Any, position: int, source: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: rule #{position + 1} must be a mapping of fields; got {raw!r}.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise _fail(f"#{position + 1}", "name", "a non-empty string of at most 64 characters", name, source)
    kind = _choice(raw, name, "kind", KINDS, None, source)
    unknown = sorted(set(raw) - _FIELDS[kind])
    if unknown:
        raise _fail(name, unknown[0], f"one of the fields of a {kind} rule ({', '.join(sorted(_FIELDS[kind]))})",
                    unknown[0], source)
    try:
        metric = validate_metric_type(raw.get("metric"))
    except ValidationError:
        raise _fail(name, "metric", "a metric type such as 'cpu_usage'", raw.get("metric"), source) from None
    common: dict[str, Any] = dict(name=name, kind=kind, metric=metric,
                  severity=_choice(raw, name, "severity", SEVERITIES, None, source),
                  window=_duration(raw, name, "window", source, None), description=str(raw.get("description", "")))
    every = _duration(raw, name, "every", source, timedelta(hours=1)) or timedelta(hours=1)
    min_points = raw.get("min_points", 6)
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
        raise _fail(name, "min_points", "a whole number of at least 3", min_points, source)
    if kind == "threshold":
        return AlertRule(**common, function=_choice(raw, name, "function", FUNCTIONS, "mean", source),
                         operator=_choice(raw, name, "operator", ("above", "below"), "above", source),
                         threshold=_required_number(raw, name, "threshold", source))
    if every >= common["window"]:
        raise _fail(name, "every", f"shorter than the window ({raw.get('window')})", raw.get("every", "1h"), source)
    if kind == "trend":
        return AlertRule(**common, every=every, min_points=min_points,
                         rate_per_day=_required_number(raw, name, "rate_per_day", source, positive=True),
                         direction=_choice(raw, name, "direction", ("rising", "falling"), "rising", source),
                         threshold=_number(raw, name, "threshold", source, required=False),
                         horizon=_duration(raw, name, "horizon", source, None))
    return AlertRule(**common, every=every, min_points=min_points,
                     z=_number(raw, name, "z", source, required=False, positive=True) or 4.0)


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

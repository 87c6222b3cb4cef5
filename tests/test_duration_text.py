"""Durations are written by one function, :func:`vigileos_analytics.i18n.format_duration`,
whether a report table, a dashboard page or the command line shows them."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from vigileos_analytics.cli.admin import _lag_text
from vigileos_analytics.i18n import Translator, format_duration
from vigileos_analytics.reports.display import format_value

PACKAGE = Path(format_duration.__code__.co_filename).parent

CASES = [  # seconds, English, French
    (0, "0 s", "0 s"),
    (45, "45 s", "45 s"),
    (60, "1 min", "1 min"),
    (89, "1 min", "1 min"),
    (90, "2 min", "2 min"),  # to the nearest minute
    (3600, "1 h", "1 h"),
    (5400, "1 h 30 min", "1 h 30 min"),
    (3600 + 5 * 60, "1 h 05 min", "1 h 05 min"),
    (86_400, "1 d", "1 j"),
    (93_600, "1 d 2 h", "1 j 2 h"),
    (4 * 86_400 + 20 * 3600 + 59, "4 d 20 h", "4 j 20 h"),  # days: minutes dropped
]


@pytest.mark.parametrize(("seconds", "en", "fr"), CASES)
def test_format_duration(seconds, en, fr):
    assert format_duration(seconds) == en
    assert format_duration(seconds, "fr") == fr


@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_missing_duration_is_a_dash(missing):
    assert format_duration(missing) == "–"


@pytest.mark.parametrize(("seconds", "en", "fr"), CASES)
def test_reports_dashboards_and_cli_write_the_same_text(seconds, en, fr):
    for lang, expected in (("en", en), ("fr", fr)):
        tr = Translator(lang)
        assert format_value(seconds, "duration", tr) == expected  # a report table cell
        assert tr.duration(seconds) == expected                   # what dashboard panels call
    assert _lag_text(seconds) == en                               # `vigileos` status output
    assert _lag_text(-seconds) == (f"{en} ahead" if seconds else en)


@pytest.mark.parametrize("module", ["reports", "dashboards", "cli"])
def test_no_other_function_turns_seconds_into_hours_and_minutes(module):
    """A second copy would show up as arithmetic on 60 / 3600 next to an "h" or "min" unit."""
    for path in sorted((PACKAGE / module).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"divmod\([^)]*\b(60|3600|1440)\b", text), path.name
        assert not re.search(r'f"[^"]*\} h \{[^"]*\} ?min', text), path.name


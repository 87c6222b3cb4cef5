"""The message catalogue and the number / date formats of each language.

Besides the catalogue itself, the package's code and notebooks are scanned for the
keys they ask for (``.t("...")``, ``say("...")``, ``label("group", ...)``,
``show_heading(ctx, "...")``), so a key used but missing fails here, not on a page.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.i18n import (
    LANGUAGES,
    PLURAL_FORMS,
    Translator,
    catalogue,
    format_date,
    format_duration,
    format_number,
    format_percent,
    format_time,
    placeholders,
    plural_form,
)

NBSP = "\u00a0"
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vigileos_analytics"


def test_every_language_has_the_same_keys_as_english() -> None:
    reference = set(catalogue("en"))
    for lang in LANGUAGES:
        assert set(catalogue(lang)) == reference, lang


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_has_the_same_placeholders_as_english(lang: str) -> None:
    english, other = catalogue("en"), catalogue(lang)
    differ = {key: (sorted(placeholders(english[key])), sorted(placeholders(other[key])))
              for key in english if key in other and placeholders(english[key]) != placeholders(other[key])}
    assert differ == {}


def test_plural_messages_are_well_formed() -> None:
    cldr = {"zero", "one", "two", "few", "many", "other"}
    for lang in LANGUAGES:
        # A block with a form we do not choose (or without 'other') would be flattened into plain keys.
        assert [key for key in catalogue(lang) if key.rsplit(".", 1)[-1] in cldr] == [], lang
        plural = {key: value for key, value in catalogue(lang).items() if isinstance(value, dict)}
        assert plural and all(set(value) <= set(PLURAL_FORMS) and "other" in value for value in plural.values())


@pytest.mark.parametrize(("lang", "percent", "date", "number"), [
    ("en", f"92.5{NBSP}%", "2024-01-31", "1,234,567.9"),
    ("fr", f"92,5{NBSP}%", "31/01/2024", "1\u202f234\u202f567,9"),
])
def test_formats_per_language(lang: str, percent: str, date: str, number: str) -> None:
    assert format_percent(92.5, lang) == percent
    assert format_date(datetime(2024, 1, 31, 23, 30, tzinfo=UTC), lang) == date
    assert format_number(1234567.89, lang) == number


def test_missing_values_and_durations() -> None:
    assert format_percent(None) == "–" and format_number(float("nan")) == "–"
    assert format_duration(45) == "45 s"
    assert format_duration(5400) == "1 h 30 min"
    assert format_duration(93600, "fr") == "1 j 2 h"
    assert format_duration(3600) == "1 h"


def test_translator_messages_and_labels() -> None:
    fr = Translator("fr")
    assert fr.t("monthly_availability.title") == "Rapport mensuel de disponibilité"
    assert fr.t("common.scope", count=4) == "4 équipements"
    assert fr.label("status", "offline") == "Hors service"
    assert fr.label("metrics", "vibration_level") == "Vibration level"  # custom metric: readable fallback
    assert fr.month(datetime(2024, 1, 5, tzinfo=UTC)) == "janvier 2024"


def test_unknown_key_and_language_fail_loudly() -> None:
    with pytest.raises(KeyError, match="no message 'nope.title'"):
        Translator("en").t("nope.title")
    with pytest.raises(ValidationError, match="language must be one of en, fr; got 'de'"):
        Translator("de")


@pytest.mark.parametrize(("lang", "one", "other"), [
    ("en", [1, 1.0, -1], [0, 0.5, 1.5, 2, 21, None, float("nan"), "n/a"]),
    ("fr", [0, 1, 0.5, 1.5, 1.99, -1], [2, 2.0, 21, 1000, None, float("nan"), "n/a"]),
])
def test_plural_rule_of_each_language(lang: str, one: list, other: list) -> None:
    assert [plural_form(lang, n) for n in one] == ["one"] * len(one)
    assert [plural_form(lang, n) for n in other] == ["other"] * len(other)


def test_plural_messages_choose_their_form_by_count() -> None:
    en, fr = Translator("en"), Translator("fr")
    assert [fr.t("common.scope", count=n) for n in (0, 1, 2)] == ["0 équipement", "1 équipement", "2 équipements"]
    assert [en.t("common.scope", count=n) for n in (0, 1, 2)] == ["0 equipment", "1 equipment", "2 equipment"]
    assert en.t("common.more_rows", count=1) == "… and 1 more row in the Excel workbook."
    assert en.t("common.more_rows", count=0) == "… and 0 more rows in the Excel workbook."
    assert fr.t("kpis.outages", count=0) == "panne" and en.t("kpis.outages", count=0) == "outages"
    facts = {"availability": "99.0 %", "coverage": "100 %", "downtime": "5 min"}
    assert en.t("dashboard.detail.summary", count=1, **facts) == \
        "Availability 99.0 % · coverage 100 % · 1 outage · downtime 5 min"
    assert "· 0 panne ·" in fr.t("dashboard.detail.summary", count=0, **facts)
    assert "· 2 pannes ·" in fr.t("dashboard.detail.summary", count=2, **facts)
    assert fr.t("dashboard.alerts.more", count=1, total=3) == "La plus récente des 3 alertes actives"
    assert en.t("dashboard.alerts.more", count=1, total=3) == "The 1 newest of 3 active alerts"
    assert en.t("cli.more_rows", count=2) == "… 2 more rows (use --json or --limit to see them)."
    assert en.t("cli.points", count=12345) == "12,345 points"
    with pytest.raises(KeyError, match="pass count="):
        en.t("common.more_rows")


def test_dashboard_texts_and_formats() -> None:
    en, fr = Translator("en"), Translator("fr")
    assert fr.t("dashboard.error.unknown_equipment.title") == "Équipement inconnu"
    assert en.label("dashboard.status", "offline") == "offline"
    assert fr.label("dashboard.alerts.severity", "warning") == "avertissement"
    assert en.label("dashboard.metric", "vibration_level") == "Vibration level"
    assert en.time(datetime(2024, 1, 31, 15, 5, 9, tzinfo=UTC)) == "15:05:09"
    assert format_time(None) == "–"


# -- the keys the code asks for ---------------------------------------------------------------

_SCANNED = (PACKAGE / "dashboards", PACKAGE / "reports", PACKAGE / "cli")


def _sources() -> Iterator[tuple[str, str]]:
    for folder in _SCANNED:
        for path in sorted(folder.glob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text("utf-8")
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text("utf-8"))["cells"]
        for number, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                yield f"{path.relative_to(ROOT)}[{number}]", "\n".join(
                    line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _pattern(node: ast.expr) -> str | None:
    """A regular expression for the key an argument spells (f-string fields match any text)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(part.value) if isinstance(part, ast.Constant) else ".+" for part in node.values)
    return None


def _asked_keys() -> Iterator[tuple[str, str]]:
    """(where, key pattern) for every catalogue key the scanned code spells out."""
    for where, source in _sources():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("t", "say") and (pattern := _pattern(node.args[0])):
                yield where, pattern
            elif name == "label" and (pattern := _pattern(node.args[0])):
                yield where, pattern + r"\..+"
            elif name == "show_heading" and len(node.args) > 1 and (pattern := _pattern(node.args[1])):
                yield where, r"sections\." + pattern


def test_every_key_the_code_asks_for_is_in_the_catalogue() -> None:
    keys = list(catalogue("en"))
    asked = list(_asked_keys())
    missing = [(where, pattern) for where, pattern in asked
               if not any(re.fullmatch(pattern, key) for key in keys)]
    assert missing == []
    # The scan sees the dashboards, the reports, the CLI and the notebooks.
    assert len(asked) > 120
    assert {where.split("/")[1] for where, _ in asked} >= {"dashboards", "reports", "cli"}
    assert any(where.startswith("notebooks/") for where, _ in asked)


def test_keys_built_from_names_exist() -> None:
    from vigileos_analytics.dashboards.params import RANGE_KEYS
    from vigileos_analytics.reports import REPORTS

    en = Translator("en")
    assert [k for k in RANGE_KEYS if not en.has(f"dashboard.range.{k}")] == []
    assert [r for r in REPORTS if not (en.has(f"{r}.title") and en.has(f"{r}.intro"))] == []
    for group, names in (("dashboard.table", ("equipment", "name", "type", "location", "status", "availability",
                                              "coverage", "last_metric")),
                         ("dashboard.alerts.column", ("severity", "equipment", "rule", "message", "since")),
                         ("dashboard.alerts.severity", ("critical", "warning", "info")),
                         ("dashboard.status", ("operational", "maintenance", "offline", "unknown"))):
        assert [n for n in names if not en.has(f"{group}.{n}")] == [], group


def _sample(spec: str) -> object:
    """A value that suits a placeholder's format spec: a time for ``%…``, a number for ``,`` / ``g`` / ``.1f``."""
    if "%" in spec:
        return datetime(2024, 1, 31, 14, 5, tzinfo=UTC)
    return 1234.5 if spec else "x"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_formats_in_every_form(lang: str) -> None:
    import string

    for key, message in catalogue(lang).items():
        for count, form in ((1, "one"), (2, "other")) if isinstance(message, dict) else ((2, None),):
            text = message.get(form, message["other"]) if form else message
            fields = {name: _sample(spec) for _, name, spec, _ in string.Formatter().parse(str(text)) if name}
            fields["count"] = count  # an int suits every spec a count has here (',', 'g')
            assert Translator(lang).t(key, **fields), key

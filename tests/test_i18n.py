"""The message catalogue and the number / date formats of each language."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.i18n import (LANGUAGES, Translator, catalogue, format_date, format_duration, format_number,
                                     format_percent)

NBSP = "\u00a0"


def test_every_language_has_the_same_keys_as_english() -> None:
    reference = set(catalogue("en"))
    for lang in LANGUAGES:
        assert set(catalogue(lang)) == reference, lang


@pytest.mark.parametrize(("lang", "percent", "date", "number"), [
    ("en", f"92.5{NBSP}%", "2024-01-31", "1,234,567.9"),
    ("fr", f"92,5{NBSP}%", "31/01/2024", "1\u202f234\u202f567,9"),
])
def test_formats_per_language(lang: str, percent: str, date: str, number: str) -> None:
    assert format_percent(92.5, lang) == percent
    assert format_date(datetime(2024, 1, 31, 23, 30, tzinfo=timezone.utc), lang) == date
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
    assert fr.month(datetime(2024, 1, 5, tzinfo=timezone.utc)) == "janvier 2024"


def test_unknown_key_and_language_fail_loudly() -> None:
    with pytest.raises(KeyError, match="no message 'nope.title'"):
        Translator("en").t("nope.title")
    with pytest.raises(ValidationError, match="language must be one of en, fr; got 'de'"):
        Translator("de")

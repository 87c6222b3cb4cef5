"""One message catalogue and number / date formats per language, for reports,
dashboards and the CLI.

The catalogue lives in ``locales/<lang>.yaml`` (nested keys, flattened with dots:
``monthly_availability.title``; the dashboards' texts are under ``dashboard.``, the
CLI's under ``cli.``). Every language has the same keys and placeholders as English
(``tests/test_i18n.py`` checks it); a key missing in a language falls back to
English, and a key missing everywhere raises ``KeyError`` so that a typo fails
loudly in the tests instead of printing a raw key.

A message that depends on a number is a mapping of plural forms, chosen by the
``count`` field (CLDR cardinal rules, see :func:`plural_form`)::

    scope:
      one: "{count} équipement"      # fr: 0 and 1 (and 1.5); en: exactly 1
      other: "{count} équipements"

Usage::

    tr = Translator("fr")
    tr.t("common.scope", count=1)                   # '1 équipement'
    tr.percent(92.5)                                # '92,5 %'
    tr.date(datetime(2024, 1, 31, tzinfo=UTC))      # '31/01/2024'
    tr.duration(5400)                               # '1 h 30 min'

The module-level ``format_*`` functions do the same with an explicit ``lang``.
Datetimes are shown in UTC (the package's zone); naive values are taken as UTC.
French puts a no-break space (U+00A0) before ``%`` and groups thousands with a
narrow no-break space (U+202F), so a number never breaks across lines. pandas is
imported only to format a timestamp, so the CLI prints catalogue texts without it.
"""

from __future__ import annotations

import math
import string
import sys
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from .errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Translator", "check_language", "format_date", "format_datetime",
           "format_duration", "format_number", "format_percent", "format_time", "placeholders", "plural_form"]

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
#: The plural categories a catalogue message may have (CLDR names); ``other`` is required.
PLURAL_FORMS = ("one", "other")


@dataclass(frozen=True)
class _Formats:
    decimal: str
    thousands: str
    date: str
    datetime: str
    month: str  # "{month_name} {year}"


_FORMATS = {
    "en": _Formats(decimal=".", thousands=",", date="%Y-%m-%d", datetime="%Y-%m-%d %H:%M", month="{name} {year}"),
    # French groups thousands with a narrow no-break space and puts a no-break space before %.
    "fr": _Formats(decimal=",", thousands="\u202f", date="%d/%m/%Y", datetime="%d/%m/%Y %H:%M", month="{name} {year}"),
}


def check_language(lang: Any) -> str:
    """Return ``lang`` if it is a known language code, else raise ``ValidationError``."""
    if lang not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}; got {lang!r}.",
                              field="language", value=lang)
    return lang


def plural_form(lang: str, count: Any) -> str:
    """The CLDR cardinal category of ``count`` in ``lang``: ``'one'`` or ``'other'``.

    English: ``one`` for exactly 1. French: ``one`` for 0 and 1, fractions included
    (``0,5 heure``, ``1,5 heure``). A missing or non-numeric count is ``other``.
    """
    try:
        number = abs(float(count))
    except (TypeError, ValueError):
        return "other"
    if math.isnan(number):
        return "other"
    if check_language(lang) == "fr":
        return "one" if number < 2 else "other"
    return "one" if number == 1 else "other"


def _is_plural(value: Any) -> bool:
    return isinstance(value, dict) and "other" in value and set(value) <= set(PLURAL_FORMS)


def placeholders(message: Any) -> set[str]:
    """The ``str.format`` field names of a catalogue message (of every plural form;
    ``count`` too when the message has plural forms, since it chooses the form)."""
    if _is_plural(message):
        return {"count"}.union(*(placeholders(form) for form in message.values()))
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(str(message)) if name}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_plural(value):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


@cache
def catalogue(lang: str) -> dict[str, Any]:
    """The flattened catalogue of ``lang``: dotted keys to strings, or to a dict of
    plural forms (``{"one": ..., "other": ...}``)."""
    text = resources.files("vigileos_analytics").joinpath("locales", f"{check_language(lang)}.yaml").read_text("utf-8")
    return _flatten(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {})


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    pandas = sys.modules.get("pandas")  # pandas' NA / NaT exist only once pandas is loaded
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return True
    return isinstance(value, float) and math.isnan(value)


def format_number(value: Any, lang: str = DEFAULT_LANGUAGE, decimals: int = 1, missing: str = "–") -> str:
    """``1234.5`` → ``'1,234.5'`` (en) or ``'1 234,5'`` (fr); ``missing`` for None / NaN."""
    if _is_missing(value):
        return missing
    fmt = _FORMATS[check_language(lang)]
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\0").replace(".", fmt.decimal).replace("\0", fmt.thousands)


def format_percent(value: Any, lang: str = DEFAULT_LANGUAGE, decimals: int = 1, missing: str = "–") -> str:
    """A value already in percent: ``92.5`` → ``'92.5 %'`` (en) or ``'92,5 %'`` (fr)."""
    if _is_missing(value):
        return missing
    return f"{format_number(value, lang, decimals)}\u00a0%"


def _timestamp(value: Any) -> pd.Timestamp:
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def format_date(value: date | datetime | pd.Timestamp | None, lang: str = DEFAULT_LANGUAGE, missing: str = "–") -> str:
    """A date in UTC: ``'2024-01-31'`` (en) or ``'31/01/2024'`` (fr)."""
    if _is_missing(value):
        return missing
    return _timestamp(value).strftime(_FORMATS[check_language(lang)].date)


def format_datetime(value: datetime | pd.Timestamp | None, lang: str = DEFAULT_LANGUAGE, missing: str = "–") -> str:
    """A time in UTC to the minute: ``'2024-01-31 14:05'`` (en) or ``'31/01/2024 14:05'`` (fr)."""
    if _is_missing(value):
        return missing
    return _timestamp(value).strftime(_FORMATS[check_language(lang)].datetime)


def format_time(value: datetime | pd.Timestamp | None, missing: str = "–") -> str:
    """A time of day in UTC to the second, the same in every language: ``'14:05:09'``."""
    if _is_missing(value):
        return missing
    return _timestamp(value).strftime("%H:%M:%S")


def format_duration(seconds: Any, lang: str = DEFAULT_LANGUAGE, missing: str = "–") -> str:
    """A duration in seconds, to the minute: ``5400`` → ``'1 h 30 min'``; ``93600`` →
    ``'1 d 2 h'`` (en) / ``'1 j 2 h'`` (fr); under a minute: ``'45 s'``."""
    if _is_missing(seconds):
        return missing
    total = float(seconds)
    if total < 60:
        return f"{format_number(total, lang, 0)} s"
    minutes = round(total / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    day_unit = catalogue(lang).get("units.day_short", "d")
    if days:
        return f"{days} {day_unit} {hours} h" if hours else f"{days} {day_unit}"
    if hours:
        return f"{hours} h {mins:02d} min" if mins else f"{hours} h"
    return f"{mins} min"


class Translator:
    """Messages and formats of one language (``en`` or ``fr``).

    ``t(key, **fmt)`` returns the message with ``str.format`` fields filled (the
    plural form chosen by ``count`` when the message has forms); the ``percent`` /
    ``number`` / ``date`` / ``datetime`` / ``time`` / ``duration`` methods are the
    module functions bound to this language.
    """

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = check_language(lang)
        self._messages = catalogue(self.lang)
        self._fallback = catalogue(DEFAULT_LANGUAGE)

    def __repr__(self) -> str:
        return f"Translator({self.lang!r})"

    def t(self, key: str, **fmt: Any) -> str:
        """The message ``key`` (dotted), formatted with ``fmt``; a message with plural
        forms needs ``count``. Raises ``KeyError`` for an unknown key or a missing count."""
        message = self._messages.get(key, self._fallback.get(key))
        if message is None:
            raise KeyError(f"no message {key!r} in the {self.lang!r} catalogue (nor in English); "
                           f"add it to vigileos_analytics/locales/{self.lang}.yaml.")
        if isinstance(message, dict):
            if "count" not in fmt:
                raise KeyError(f"message {key!r} has plural forms: pass count=<number>.")
            message = message.get(plural_form(self.lang, fmt["count"]), message["other"])
        return str(message).format(**fmt) if fmt else str(message)

    def has(self, key: str) -> bool:
        return key in self._messages or key in self._fallback

    def label(self, group: str, name: str) -> str:
        """``t(f"{group}.{name}")`` when the catalogue has it, else ``name`` made readable
        (for custom metric types and free statuses)."""
        key = f"{group}.{name}"
        return self.t(key) if self.has(key) else str(name).replace("_", " ").capitalize()

    def month(self, value: date | datetime | pd.Timestamp) -> str:
        """'January 2024' / 'janvier 2024'."""
        stamp = _timestamp(value)
        names = self.t("calendar.months").split(",")
        return _FORMATS[self.lang].month.format(name=names[stamp.month - 1].strip(), year=stamp.year)

    def percent(self, value: Any, decimals: int = 1) -> str:
        return format_percent(value, self.lang, decimals)

    def number(self, value: Any, decimals: int = 1) -> str:
        return format_number(value, self.lang, decimals)

    def date(self, value: Any) -> str:
        return format_date(value, self.lang)

    def datetime(self, value: Any) -> str:
        return format_datetime(value, self.lang)

    def time(self, value: Any) -> str:
        return format_time(value)

    def duration(self, seconds: Any) -> str:
        return format_duration(seconds, self.lang)


"""Options in a URL's query string, read by one set of rules: store URLs
(``duckdb:///data/metrics.duckdb?run_gap=10m``) and dashboard pages (``?lang=fr&range=7d``).

Rules:

- names are case-sensitive; values are percent-decoded (``+`` is a space) and
  stripped of surrounding spaces;
- an empty value (``?spool=`` or ``?spool``) counts as not given: the default applies;
- an option given twice with different values is a mistake; the first value is kept;
- with ``known`` names, any other name is a mistake (a dashboard page passes no
  list: Voila and the Jupyter server add options of their own);
- a flag reads ``true``/``false``, ``1``/``0``, ``yes``/``no`` or ``on``/``off``, in any case.

Reading never raises: mistakes are collected in :attr:`URLOptions.problems`. A store
calls :meth:`URLOptions.raise_problems` to refuse them; a dashboard page shows them
and carries on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import overload
from urllib.parse import parse_qsl

from .errors import ConfigurationError

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "URLOptions", "is_loopback", "read_url_options"]

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class URLOptions:
    """The options of one query string: ``values`` (name → text, each given at most
    once and never empty) and ``problems`` (one sentence per mistake)."""

    values: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    source: str = "the URL"

    def __contains__(self, name: object) -> bool:
        return name in self.values

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The text of option ``name``, or ``default`` when it is not given."""
        return self.values.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        """Option ``name`` as a boolean (see the module's words); raises ConfigurationError
        for any other text."""
        text = self.values.get(name)
        if text is None:
            return default
        word = text.lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigurationError(f"The option {name} in {self.source} must be true or false (or 1/0, yes/no, "
                                     f"on/off); got {text!r}.")
        return word in TRUE_WORDS

    def flag_or_text(self, name: str, default: bool) -> bool | str:
        """A flag when the text is one of the flag words, else the text itself (e.g.
        ``verify=false`` or ``verify=/etc/ssl/ca.pem``)."""
        text = self.values.get(name)
        if text is None:
            return default
        return self.flag(name, default) if text.lower() in TRUE_WORDS | FALSE_WORDS else text

    def raise_problems(self) -> URLOptions:
        """``self`` when there is no problem, else ConfigurationError naming every one."""
        if self.problems:
            raise ConfigurationError(" ".join(self.problems))
        return self


def read_url_options(query: str | None, known: Collection[str] | None = None, *,
                     source: str = "the URL") -> URLOptions:
    """Read the query string ``query`` (without the ``?``) by the module's rules.
    ``source`` names where it came from in the messages ("the store URL")."""
    values: dict[str, str] = {}
    problems: list[str] = []
    unknown: list[str] = []
    for name, raw in parse_qsl(query or "", keep_blank_values=True):
        if known is not None and name not in known:
            if name not in unknown:
                unknown.append(name)
            continue
        text = raw.strip()
        if not text:
            continue
        if name in values:
            if values[name] != text:
                problems.append(f"The option {name} is given twice in {source} ({values[name]!r} and {text!r}); "
                                "give it once.")
            continue
        values[name] = text
    if unknown:
        problems.insert(0, f"Unknown option(s) {sorted(unknown)} in {source}; known: {sorted(known or ())}.")
    return URLOptions(MappingProxyType(values), tuple(problems), source)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False

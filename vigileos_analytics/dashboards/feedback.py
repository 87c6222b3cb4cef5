"""Friendly messages instead of tracebacks.

Every failure a dashboard can meet becomes a :class:`Notice` (a title and a body in
the page's language). Package errors are explained; anything else is logged with
its traceback on the server and shown as a short "something went wrong".
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from ..errors import (  # the page states live in the one tree; imported here for callers
    ConfigurationError,
    EmptyStoreError,
    NoEquipmentChosen,
    StoreError,
    ValidationError,
)
from ..i18n import Translator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A message for the page: ``kind`` is ``info``, ``warning`` or ``error``."""

    kind: str
    title: str
    body: str

    def to_html(self) -> str:
        colours = {"info": ("#e8f1fb", "#1f5fa8"), "warning": ("#fff6e0", "#8a5a00"), "error": ("#fdecea", "#a61b1b")}
        background, border = colours.get(self.kind, colours["error"])
        return (f'<div class="vigileos-notice vigileos-notice-{self.kind}" role="alert" '
                f'style="background:{background};border-left:4px solid {border};padding:12px 16px;margin:8px 0;'
                f'border-radius:4px;font-size:14px">'
                f'<div style="font-weight:600;margin-bottom:4px">{html.escape(self.title)}</div>'
                f'<div>{html.escape(self.body)}</div></div>')


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


def notice_for(exc: BaseException, text: Translator, *, store: str = "", equipment: str | None = None) -> Notice:
    """The message a manager sees for ``exc``; unexpected errors are logged with their traceback."""
    if isinstance(exc, EmptyStoreError):
        return Notice("info", text.t("dashboard.error.empty.title"), text.t("dashboard.error.empty.body", store=store))
    if isinstance(exc, NoEquipmentChosen):
        return Notice("info", text.t("dashboard.error.no_equipment.title"),
                      text.t("dashboard.error.no_equipment.body"))
    if isinstance(exc, ValidationError) and exc.field == "equipment_id":
        return Notice("warning", text.t("dashboard.error.unknown_equipment.title"),
                      text.t("dashboard.error.unknown_equipment.body", equipment=equipment or exc.value))
    if isinstance(exc, StoreError):
        return Notice("error", text.t("dashboard.error.store.title"),
                      text.t("dashboard.error.store.body", store=store, reason=_reason(exc)))
    if isinstance(exc, ConfigurationError):
        return Notice("error", text.t("dashboard.error.config.title"),
                      text.t("dashboard.error.config.body", reason=_reason(exc)))
    if isinstance(exc, ValidationError):
        return Notice("warning", text.t("dashboard.error.invalid.title"),
                      text.t("dashboard.error.invalid.body", reason=_reason(exc)))
    log.error("dashboard failure", exc_info=exc)
    return Notice("error", text.t("dashboard.error.internal.title"),
                  text.t("dashboard.error.internal.body", kind=type(exc).__name__))

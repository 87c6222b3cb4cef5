"""The dashboards' words, in English and French, and the formats they use.

Keys are dotted (``dashboard.overview.title``) and shaped like the package's
message catalogue (:mod:`vigileos_analytics.i18n`, ``locales/<lang>.yaml``), so
they can move there unchanged. Until they do, :class:`DashboardText` looks a key
up in the shared catalogue first and in :data:`MESSAGES` second; numbers and dates
are formatted by :mod:`vigileos_analytics.i18n` when it is available.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

import pandas as pd

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"

log = logging.getLogger(__name__)

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "dashboard.overview.title": "Fleet overview",
        "dashboard.detail.title": "Equipment detail",
        "dashboard.range.label": "Period",
        "dashboard.range.24h": "Last 24 hours",
        "dashboard.range.7d": "Last 7 days",
        "dashboard.range.30d": "Last 30 days",
        "dashboard.range.custom": "Custom",
        "dashboard.range.from": "From",
        "dashboard.range.to": "To (inclusive)",
        "dashboard.range.shown": "{start} → {end} (UTC)",
        "dashboard.refresh.auto": "Auto-refresh",
        "dashboard.refresh.every": "every (s)",
        "dashboard.refresh.now": "Refresh",
        "dashboard.refresh.updated": "Updated {time} UTC",
        "dashboard.refresh.failed": "The last refresh failed: {message}",
        "dashboard.kpi.total": "Equipment",
        "dashboard.kpi.average_availability": "Average availability",
        "dashboard.ranking.title": "Availability ranking (lowest first)",
        "dashboard.ranking.axis": "Availability (%)",
        "dashboard.table.title": "Equipment",
        "dashboard.table.equipment": "Equipment",
        "dashboard.table.name": "Name",
        "dashboard.table.type": "Type",
        "dashboard.table.location": "Location",
        "dashboard.table.status": "Current status",
        "dashboard.table.availability": "Availability",
        "dashboard.table.coverage": "Coverage",
        "dashboard.table.last_metric": "Last metric (UTC)",
        "dashboard.table.open": "details",
        "dashboard.changes.title": "Recent status changes",
        "dashboard.changes.time": "Time (UTC)",
        "dashboard.changes.from": "From",
        "dashboard.changes.to": "To",
        "dashboard.changes.none": "No status change in this period.",
        "dashboard.alerts.title": "Active alerts",
        "dashboard.alerts.none": "No active alerts",
        "dashboard.alerts.count": "{count} firing, newest first",
        "dashboard.alerts.more": "The {shown} newest of {total} active alerts",
        "dashboard.alerts.age": "for {duration}",
        "dashboard.alerts.just_now": "just started",
        "dashboard.alerts.column.severity": "Severity",
        "dashboard.alerts.column.equipment": "Equipment",
        "dashboard.alerts.column.rule": "Rule",
        "dashboard.alerts.column.message": "Message",
        "dashboard.alerts.column.since": "Since (UTC)",
        "dashboard.alerts.severity.critical": "critical",
        "dashboard.alerts.severity.warning": "warning",
        "dashboard.alerts.severity.info": "info",
        "dashboard.detail.select": "Equipment",
        "dashboard.detail.back": "← Fleet overview",
        "dashboard.detail.timeline": "Availability and status timeline",
        "dashboard.detail.performance": "Performance",
        "dashboard.detail.custom": "Other metrics",
        "dashboard.detail.no_custom": "No other metric in this period.",
        "dashboard.detail.history": "Status history",
        "dashboard.detail.threshold": "threshold {value}",
        "dashboard.detail.availability": "Availability",
        "dashboard.detail.status": "Status",
        "dashboard.detail.summary": "Availability {availability} · coverage {coverage} · {outages} outage(s) · "
                                    "downtime {downtime}",
        "dashboard.detail.no_points": "No point in this period.",
        "dashboard.state.available": "available",
        "dashboard.state.unavailable": "unavailable",
        "dashboard.state.unknown": "no data",
        "dashboard.status.operational": "operational",
        "dashboard.status.maintenance": "maintenance",
        "dashboard.status.offline": "offline",
        "dashboard.status.unknown": "unknown",
        "dashboard.metric.cpu_usage": "CPU usage (%)",
        "dashboard.metric.memory_usage": "Memory usage (%)",
        "dashboard.metric.response_time": "Response time (ms)",
        "dashboard.metric.temperature": "Temperature (°C)",
        "dashboard.metric.power_consumption": "Power (W)",
        "dashboard.metric.network_traffic": "Network traffic (bytes/s)",
        "dashboard.error.empty.title": "No data yet",
        "dashboard.error.empty.body": "The store {store} holds no measurement yet. Start a collector or run "
                                      "`vigileos simulate` to fill it; this page refreshes by itself.",
        "dashboard.error.unknown_equipment.title": "Unknown equipment",
        "dashboard.error.unknown_equipment.body": "No equipment is called “{equipment}”: it is neither in the "
                                                  "inventory nor in the store. Choose one in the list above.",
        "dashboard.error.no_equipment.title": "Choose an equipment",
        "dashboard.error.no_equipment.body": "Pick an equipment in the list above, or open this page from a row "
                                             "of the fleet overview.",
        "dashboard.error.store.title": "The data store cannot be reached",
        "dashboard.error.store.body": "The dashboard could not read {store}: {reason} Check that the store is "
                                      "running and that VIGILEOS_STORE_URL is right (`vigileos check` tests it), "
                                      "then reload the page.",
        "dashboard.error.config.title": "The dashboard is not configured correctly",
        "dashboard.error.config.body": "{reason} Fix the setting (see `vigileos config`), then reload the page.",
        "dashboard.error.invalid.title": "This request cannot be shown",
        "dashboard.error.invalid.body": "{reason}",
        "dashboard.error.internal.title": "Something went wrong",
        "dashboard.error.internal.body": "The dashboard met an unexpected problem ({kind}). It has been logged "
                                         "on the server; reload the page, and if it persists tell your "
                                         "administrator.",
    },
    "fr": {
        "dashboard.overview.title": "Vue d’ensemble du parc",
        "dashboard.detail.title": "Détail de l’équipement",
        "dashboard.range.label": "Période",
        "dashboard.range.24h": "Dernières 24 heures",
        "dashboard.range.7d": "7 derniers jours",
        "dashboard.range.30d": "30 derniers jours",
        "dashboard.range.custom": "Personnalisée",
        "dashboard.range.from": "Du",
        "dashboard.range.to": "Au (inclus)",
        "dashboard.range.shown": "{start} → {end} (UTC)",
        "dashboard.refresh.auto": "Actualisation auto",
        "dashboard.refresh.every": "toutes les (s)",
        "dashboard.refresh.now": "Actualiser",
        "dashboard.refresh.updated": "Mis à jour à {time} UTC",
        "dashboard.refresh.failed": "La dernière actualisation a échoué : {message}",
        "dashboard.kpi.total": "Équipements",
        "dashboard.kpi.average_availability": "Disponibilité moyenne",
        "dashboard.ranking.title": "Classement par disponibilité (la plus basse d’abord)",
        "dashboard.ranking.axis": "Disponibilité (%)",
        "dashboard.table.title": "Équipements",
        "dashboard.table.equipment": "Équipement",
        "dashboard.table.name": "Nom",
        "dashboard.table.type": "Type",
        "dashboard.table.location": "Site",
        "dashboard.table.status": "État actuel",
        "dashboard.table.availability": "Disponibilité",
        "dashboard.table.coverage": "Couverture",
        "dashboard.table.last_metric": "Dernière mesure (UTC)",
        "dashboard.table.open": "détails",
        "dashboard.changes.title": "Changements d’état récents",
        "dashboard.changes.time": "Heure (UTC)",
        "dashboard.changes.from": "De",
        "dashboard.changes.to": "Vers",
        "dashboard.changes.none": "Aucun changement d’état sur cette période.",
        "dashboard.alerts.title": "Alertes actives",
        "dashboard.alerts.none": "Aucune alerte active",
        "dashboard.alerts.count": "{count} en cours, la plus récente d’abord",
        "dashboard.alerts.more": "Les {shown} plus récentes des {total} alertes actives",
        "dashboard.alerts.age": "depuis {duration}",
        "dashboard.alerts.just_now": "vient de commencer",
        "dashboard.alerts.column.severity": "Gravité",
        "dashboard.alerts.column.equipment": "Équipement",
        "dashboard.alerts.column.rule": "Règle",
        "dashboard.alerts.column.message": "Message",
        "dashboard.alerts.column.since": "Depuis (UTC)",
        "dashboard.alerts.severity.critical": "critique",
        "dashboard.alerts.severity.warning": "avertissement",
        "dashboard.alerts.severity.info": "information",
        "dashboard.detail.select": "Équipement",
        "dashboard.detail.back": "← Vue d’ensemble",
        "dashboard.detail.timeline": "Chronologie de disponibilité et d’état",
        "dashboard.detail.performance": "Performances",
        "dashboard.detail.custom": "Autres mesures",
        "dashboard.detail.no_custom": "Aucune autre mesure sur cette période.",
        "dashboard.detail.history": "Historique des états",
        "dashboard.detail.threshold": "seuil {value}",
        "dashboard.detail.availability": "Disponibilité",
        "dashboard.detail.status": "État",
        "dashboard.detail.summary": "Disponibilité {availability} · couverture {coverage} · {outages} panne(s) · "
                                    "indisponibilité {downtime}",
        "dashboard.detail.no_points": "Aucun point sur cette période.",
        "dashboard.state.available": "disponible",
        "dashboard.state.unavailable": "indisponible",
        "dashboard.state.unknown": "pas de données",
        "dashboard.status.operational": "en service",
        "dashboard.status.maintenance": "maintenance",
        "dashboard.status.offline": "hors ligne",
        "dashboard.status.unknown": "inconnu",
        "dashboard.metric.cpu_usage": "Utilisation CPU (%)",
        "dashboard.metric.memory_usage": "Utilisation mémoire (%)",
        "dashboard.metric.response_time": "Temps de réponse (ms)",
        "dashboard.metric.temperature": "Température (°C)",
        "dashboard.metric.power_consumption": "Puissance (W)",
        "dashboard.metric.network_traffic": "Trafic réseau (octets/s)",
        "dashboard.error.empty.title": "Pas encore de données",
        "dashboard.error.empty.body": "Le stockage {store} ne contient encore aucune mesure. Démarrez un collecteur "
                                      "ou lancez `vigileos simulate` pour le remplir ; cette page s’actualise "
                                      "d’elle-même.",
        "dashboard.error.unknown_equipment.title": "Équipement inconnu",
        "dashboard.error.unknown_equipment.body": "Aucun équipement ne s’appelle « {equipment} » : il n’est ni dans "
                                                  "l’inventaire ni dans le stockage. Choisissez-en un dans la liste "
                                                  "ci-dessus.",
        "dashboard.error.no_equipment.title": "Choisissez un équipement",
        "dashboard.error.no_equipment.body": "Choisissez un équipement dans la liste ci-dessus, ou ouvrez cette page "
                                             "depuis une ligne de la vue d’ensemble.",
        "dashboard.error.store.title": "Le stockage des données est injoignable",
        "dashboard.error.store.body": "Le tableau de bord n’a pas pu lire {store} : {reason} Vérifiez que le "
                                      "stockage fonctionne et que VIGILEOS_STORE_URL est correct (`vigileos check` "
                                      "le teste), puis rechargez la page.",
        "dashboard.error.config.title": "Le tableau de bord est mal configuré",
        "dashboard.error.config.body": "{reason} Corrigez le réglage (voir `vigileos config`), puis rechargez la "
                                       "page.",
        "dashboard.error.invalid.title": "Cette demande ne peut pas être affichée",
        "dashboard.error.invalid.body": "{reason}",
        "dashboard.error.internal.title": "Un problème est survenu",
        "dashboard.error.internal.body": "Le tableau de bord a rencontré un problème inattendu ({kind}). Il a été "
                                         "consigné sur le serveur ; rechargez la page et, s’il persiste, prévenez "
                                         "votre administrateur.",
    },
}

_DATETIME_FORMATS = {"en": "%Y-%m-%d %H:%M", "fr": "%d/%m/%Y %H:%M"}


def normalize_language(lang: Any) -> str:
    """``lang`` if it is a known language (``en``, ``fr``; ``fr-FR`` counts as ``fr``), else English."""
    code = str(lang or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _shared_translator(lang: str) -> Any | None:
    """The package-wide :class:`~vigileos_analytics.i18n.Translator`, or ``None`` while
    its catalogue is not installed (the dashboards then use :data:`MESSAGES` alone)."""
    try:
        from ..i18n import Translator

        return Translator(lang)
    except Exception as exc:  # noqa: BLE001 - a missing or broken catalogue must not break a page
        log.debug("shared message catalogue unavailable (%s); using the dashboards' own", exc)
        return None


class DashboardText:
    """Messages and formats of one language for the dashboards.

    ``t(key, **fields)`` fills ``str.format`` fields; an unknown key raises
    ``KeyError`` so a typo fails in the tests rather than showing a raw key.
    """

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = normalize_language(lang)
        self._shared = _shared_translator(self.lang)
        self._own = MESSAGES[self.lang]
        self._fallback = MESSAGES[DEFAULT_LANGUAGE]

    def __repr__(self) -> str:
        return f"DashboardText({self.lang!r})"

    def t(self, key: str, **fields: Any) -> str:
        if self._shared is not None and self._shared.has(key):
            return self._shared.t(key, **fields)
        message = self._own.get(key, self._fallback.get(key))
        if message is None:
            raise KeyError(f"no dashboard message {key!r} in {self.lang!r}; add it to "
                           "vigileos_analytics/dashboards/messages.py (or the locales catalogue).")
        return message.format(**fields) if fields else message

    def label(self, group: str, name: str) -> str:
        """A translated label for a status or metric, or ``name`` made readable
        (custom metric types and extra statuses have no catalogue entry)."""
        key = f"dashboard.{group}.{name}"
        if self._shared is not None and self._shared.has(key):
            return self._shared.t(key)
        if key in self._own or key in self._fallback:
            return self.t(key)
        return str(name).replace("_", " ").capitalize()

    def percent(self, value: Any, decimals: int = 1) -> str:
        """A value already in percent: ``92.5`` → ``'92.5 %'`` / ``'92,5 %'``; ``'–'`` when missing."""
        if self._shared is not None:
            return self._shared.percent(value, decimals)
        if _missing(value):
            return "–"
        text = f"{float(value):.{decimals}f}"
        return (text.replace(".", ",") if self.lang == "fr" else text) + "\u00a0%"

    def datetime(self, value: Any) -> str:
        """A time shown in UTC to the minute; ``'–'`` when missing."""
        if self._shared is not None:
            return self._shared.datetime(value)
        if _missing(value):
            return "–"
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.strftime(_DATETIME_FORMATS[self.lang])

    def duration(self, seconds: Any) -> str:
        """A duration in seconds, to the minute (``'1 h 30 min'``); ``'–'`` when missing."""
        if self._shared is not None:
            return self._shared.duration(seconds)
        if _missing(seconds):
            return "–"
        minutes = int(round(float(seconds) / 60))
        hours, mins = divmod(minutes, 60)
        return f"{hours} h {mins:02d} min" if hours else f"{mins} min"

    def clock(self, value: datetime) -> str:
        """Hours, minutes and seconds (UTC) for the 'updated at' line."""
        return pd.Timestamp(value).tz_convert("UTC").strftime("%H:%M:%S")

"""Where a dashboard's data comes from: settings, the store and the analytics service.

Opening is lazy and its failure is remembered, so a page can render its frame and
a friendly message when the store is wrong, and retry at the next refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..analytics.service import EquipmentAnalyticsService
from ..config import Settings, load_settings, mask_url
from ..stores import open_store


def redact_url(url: str) -> str:
    """``url`` with its user name and password masked, safe to show in a page."""
    return mask_url(url)


@dataclass
class DashboardContext:
    """Settings plus a lazily built :class:`EquipmentAnalyticsService`.

    ``now`` pins the end of relative ranges (demos, tests); otherwise it is the
    wall clock, read again at every refresh.
    """

    settings: Settings
    pinned_now: datetime | None = None
    _service: EquipmentAnalyticsService | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, pinned_now: datetime | None = None, **overrides: Any) -> DashboardContext:
        """Settings from the environment (``VIGILEOS_STORE_URL``, ``VIGILEOS_INVENTORY``, ...).

        Raises :class:`~vigileos_analytics.errors.ConfigurationError` for a bad setting.
        """
        return cls(load_settings(**overrides), pinned_now)

    @property
    def store_label(self) -> str:
        return redact_url(self.settings.store_url)

    def now(self) -> datetime:
        return self.pinned_now or datetime.now(UTC)

    def service(self) -> EquipmentAnalyticsService:
        """The analytics service, opened on first use (and re-tried after a failure)."""
        if self._service is None:
            store = open_store(self.settings.store_url, self.settings)
            self._service = EquipmentAnalyticsService(store, inventory=self.settings.inventory_path,
                                                      staleness=self.settings.staleness)
        return self._service

    def reload_inventory(self) -> None:
        """Forget the service so the next call re-reads the inventory (it may have been rewritten)."""
        self._service = None

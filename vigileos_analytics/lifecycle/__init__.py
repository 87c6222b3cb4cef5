"""The data lifecycle: backup, verify and restore archives, export, cleanup and retention.

Every function works on any store through the :class:`~..stores.base.MetricsStore`
protocol and reads it in bounded chunks (:mod:`.chunks`); retention too is the store's
own (:meth:`~..stores.base.MetricsStore.retention`, shown and set by :mod:`.retention`).

Names are imported on first use (pandas and pyarrow cost over half a second), so the CLI can
offer :data:`FORMATS` as choices without them.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from .._imports import lazy_exports

if TYPE_CHECKING:
    from .archive import VerifyResult, verify
    from .backup import BackupResult, RestoreResult, backup, restore
    from .cleanup import CleanupResult, cleanup
    from .export import ExportResult, export
    from .retention import Retention, set_retention, show_retention

#: The file formats :func:`export` writes.
FORMATS = ("csv", "parquet", "lp")

_EXPORTS = {
    "VerifyResult": ".archive", "verify": ".archive",
    "BackupResult": ".backup", "RestoreResult": ".backup", "backup": ".backup", "restore": ".backup",
    "CleanupResult": ".cleanup", "cleanup": ".cleanup",
    "ExportResult": ".export", "export": ".export",
    "Retention": ".retention", "set_retention": ".retention", "show_retention": ".retention",
}

__all__ = [
    "FORMATS", "BackupResult", "CleanupResult", "ExportResult", "Retention", "RestoreResult", "VerifyResult",
    "backup", "cleanup", "export", "restore", "set_retention", "show_retention", "verify",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class _Package(types.ModuleType):
    """``backup``, ``cleanup`` and ``export`` name a function and its submodule: the import
    system binds each submodule imported on this package, which would hide the function
    from ``__getattr__``. So such a binding is dropped (the submodule stays in sys.modules)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _EXPORTS or not isinstance(value, types.ModuleType):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

"""The data lifecycle: backup, verify and restore archives, export, cleanup and retention.

Every function works on any store through the :class:`~..stores.base.MetricsStore`
protocol and reads it in bounded chunks (:mod:`.chunks`); only retention is
backend-specific (:mod:`.retention`).
"""

from __future__ import annotations

from .archive import VerifyResult, verify
from .backup import BackupResult, RestoreResult, backup, restore
from .cleanup import CleanupResult, cleanup
from .export import FORMATS, ExportResult, export
from .retention import Retention, set_retention, show_retention

__all__ = [
    "FORMATS", "BackupResult", "CleanupResult", "ExportResult", "Retention", "RestoreResult", "VerifyResult",
    "backup", "cleanup", "export", "restore", "set_retention", "show_retention", "verify",
]

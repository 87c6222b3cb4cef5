"""The hidden ``.NAME.partial-*`` work folders of backups, and removing those left behind.

A backup builds its archive in a work folder beside the target and renames it when
complete (:mod:`.backup`). A backup killed outright (``kill -9``, power loss) cannot
remove that folder, so each one records its owner (host and process id) in it, and
the next backup into the same folder removes the work folders (and half-written
``.tar`` files) of processes that no longer run on this host. A folder of another
host, or without an owner, is removed once a day old: its backup cannot still be
running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

__all__ = ["OWNER", "PARTIAL_MARK", "release_owner", "remove_stale_partials", "write_owner"]

PARTIAL_MARK = ".partial-"
#: Exactly the names backups give their work (``.NAME.partial-`` and 8 hex digits, ``.tar``
#: for an archive): nothing else in the folder is ever touched.
_PARTIAL_NAME = re.compile(r"^\..+\.partial-[0-9a-f]{8}(\.tar)?$")
OWNER = ".owner.json"
_ABANDONED_S = 86_400


def write_owner(work: Path) -> None:
    """Record this process as the owner of the work folder."""
    (work / OWNER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))


def release_owner(work: Path) -> None:
    """Remove the owner record: the folder is about to become the archive."""
    (work / OWNER).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def _abandoned(folder: Path) -> bool:
    try:
        owner = json.loads((folder / OWNER).read_text())
        if owner.get("host") == socket.gethostname():
            return not _running(int(owner["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no readable owner: judged by age
    try:
        return time.time() - folder.stat().st_mtime > _ABANDONED_S
    except OSError:
        return False


def _abandoned_file(path: Path) -> bool:
    # A tar without its work folder has no owner to ask: one untouched for the abandon delay is left over.
    try:
        return time.time() - path.stat().st_mtime > _ABANDONED_S
    except OSError:
        return False


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove the work folders and ``.tar`` files of backups into ``folder`` whose
    process is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        candidates = sorted(p for p in folder.iterdir() if _PARTIAL_NAME.match(p.name))
    except OSError:
        return removed
    for path in candidates:
        if path.is_dir() and not path.is_symlink() and _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path in candidates:
        work = path.with_name(path.name[:-4])
        if path.is_file() and path.name.endswith(".tar") and (work in removed or (
                not work.exists() and _abandoned_file(path))):
            path.unlink(missing_ok=True)  # a half-written tar whose work folder is gone
            removed.append(path)
    return removed

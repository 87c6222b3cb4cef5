"""The backup archive format, reading it (folder or ``.tar``) and verifying it.

An archive is a folder, or an uncompressed ``.tar`` of the same files::

    manifest.json
    part-000001.parquet      one chunk: one equipment over one period
    part-000002.parquet
    ...

Each part holds points in the write format: ``time`` (timestamp[ns, UTC]),
``equipment_id``, ``metric_type``, ``value`` (float64) and one string column per
tag key (null where a point lacks the tag). ``manifest.json`` says::

    {"format": "vigileos-archive", "format_version": 1, "created_at": ISO UTC,
     "source": {"backend", "location"}, "selection": {...},
     "points": total, "time_range": {"first", "last", "first_ns", "last_ns"},
     "counts": [{"equipment_id", "metric_type", "points"}, ...],
     "files": [{"name", "bytes", "sha256", "points", "equipment_id",
                "start_ns", "end_ns", "counts": {metric_type: points},
                "measurement" (rollup parts only)}, ...],
     "rollups": {"equipment_metrics_1h": {"points"}}}

``points``, ``counts`` and ``time_range`` are about raw points. A store that was
optimized also has rollups (see :mod:`vigileos_analytics.stores.rollups`): their parts
carry the rollup measurement's name and are restored into it.

An archive is only ever complete under its final name: it is built under a
hidden ``.NAME.partial-*`` name and renamed when the manifest is written.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow.parquet as pq

from ..errors import ValidationError

FORMAT = "vigileos-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_BLOCK = 1 << 20
_SHOWN_PROBLEMS = 5


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a binary stream, read in 1 MiB blocks."""
    digest, size = hashlib.sha256(), 0
    while block := stream.read(_BLOCK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


class ArchiveReader:
    """The members of an archive folder or ``.tar`` file, opened one at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self._tar = None
        elif self.path.is_file() and tarfile.is_tarfile(self.path):
            self._tar = tarfile.open(self.path, "r:")
        elif self.path.exists():
            raise ValidationError(f"{self.path} is neither an archive folder nor a .tar file; give the path a "
                                  "`vigileos backup` wrote.", field="path", value=str(self.path))
        else:
            raise ValidationError(f"No archive at {self.path}. A backup interrupted before it finished leaves "
                                  "none; run `vigileos backup` again.", field="path", value=str(self.path))

    def names(self) -> list[str]:
        if self._tar is None:
            return sorted(p.name for p in self.path.iterdir() if p.is_file())
        return sorted(m.name for m in self._tar.getmembers() if m.isfile())

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._tar is None:
            with open(self.path / name, "rb") as stream:
                yield stream
            return
        member = self._tar.extractfile(name)
        if member is None:
            raise ValidationError(f"{name} in {self.path} is not a regular file.", field="path", value=name)
        with member:
            yield member

    def manifest(self) -> dict[str, Any]:
        """The parsed manifest, checked for format and version."""
        if MANIFEST not in self.names():
            raise ValidationError(f"{self.path} has no {MANIFEST}: it is not a complete vigileos archive. "
                                  "Use a finished backup.", field="path", value=str(self.path))
        try:
            with self.open(MANIFEST) as stream:
                manifest = json.load(stream)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{MANIFEST} in {self.path} is not valid JSON ({exc}): the archive is damaged.",
                                  field="manifest") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValidationError(f"{MANIFEST} in {self.path} is not a vigileos archive manifest "
                                  f"(expected format {FORMAT!r}).", field="manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValidationError(
                f"{self.path} has archive format version {manifest.get('format_version')!r}; this version of "
                f"vigileos reads version {FORMAT_VERSION}. Use the vigileos version that wrote it.",
                field="format_version", value=manifest.get("format_version"))
        return manifest

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass(frozen=True)
class VerifyResult:
    """A verified archive: its files, points and counts per equipment and metric."""

    path: Path
    files: int
    points: int
    counts: pd.DataFrame
    manifest: dict[str, Any]


def _file_problems(reader: ArchiveReader, entry: dict[str, Any]) -> list[str]:
    name = entry["name"]
    with reader.open(name) as stream:
        digest, size = sha256_of(stream)
    if size != entry["bytes"] or digest != entry["sha256"]:
        return [f"{name} has {size} bytes and sha256 {digest[:16]}…; the manifest expects {entry['bytes']} bytes "
                f"and sha256 {entry['sha256'][:16]}…"]
    try:
        with reader.open(name) as stream:
            table = pq.read_table(stream, columns=["equipment_id", "metric_type"])
    except Exception as exc:  # pyarrow raises several types for unreadable files
        return [f"{name} is not a readable Parquet file: {exc}"]
    found = Counter(zip(table.column("equipment_id").to_pylist(), table.column("metric_type").to_pylist(), strict=True))
    expected = Counter({(entry["equipment_id"], m): n for m, n in entry["counts"].items()})
    if found != expected:
        return [f"{name} holds {dict(found)} points per (equipment, metric); the manifest expects {dict(expected)}"]
    return []


def verify(path: str | Path) -> VerifyResult:
    """Check an archive: manifest, every file's size and sha256, and the points per
    equipment and metric in each file and in total. Raises ``ValidationError``
    listing what is wrong; returns what was checked."""
    with ArchiveReader(path) as reader:
        manifest = reader.manifest()
        try:
            return _verify_members(reader, manifest)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(f"{MANIFEST} in {path} is malformed ({type(exc).__name__}: {exc}): the archive "
                                  "is damaged. Use another copy of the backup.", field="manifest") from exc


def _verify_members(reader: ArchiveReader, manifest: dict[str, Any]) -> VerifyResult:
    path = reader.path
    entries = manifest.get("files", [])
    listed = {e["name"] for e in entries}
    present = set(reader.names()) - {MANIFEST}
    problems = [f"{name} is listed in the manifest but missing" for name in sorted(listed - present)]
    problems += [f"{name} is in the archive but not in the manifest" for name in sorted(present - listed)]
    for entry in entries:
        if entry["name"] in present:
            problems += _file_problems(reader, entry)
    totals: Counter = Counter()
    rollup_totals: Counter = Counter()
    for entry in entries:
        if entry.get("measurement"):
            rollup_totals[entry["measurement"]] += entry["points"]
        else:
            totals.update({(entry["equipment_id"], m): n for m, n in entry["counts"].items()})
    claimed_rollups = Counter({m: r["points"] for m, r in manifest.get("rollups", {}).items()})
    if +rollup_totals != +claimed_rollups:
        problems.append(f"the rollup files hold {dict(rollup_totals)} points, the manifest says "
                        f"{dict(claimed_rollups)}")
    claimed = Counter({(c["equipment_id"], c["metric_type"]): c["points"] for c in manifest.get("counts", [])})
    if totals != claimed or sum(totals.values()) != manifest.get("points"):
        problems.append(f"the files hold {sum(totals.values())} points, the manifest's totals say "
                        f"{manifest.get('points')} (or differ per equipment and metric)")
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
        raise ValidationError(f"The archive {path} is damaged: {shown}{more}. Do not restore it; use another "
                              "copy of the backup.", field="archive", value=problems)
    counts = pd.DataFrame(manifest.get("counts", []), columns=["equipment_id", "metric_type", "points"])
    return VerifyResult(Path(path), len(entries), int(manifest["points"]), counts, manifest)

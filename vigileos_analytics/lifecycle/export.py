"""Export a selection of points to one CSV, Parquet or line-protocol file.

Formats (chosen by ``format``, else by the file's suffix):

- ``csv``: columns ``time`` (ISO 8601, UTC, ``+00:00``, nanoseconds when there are
  any), ``equipment_id``, ``metric_type``, ``value`` (shortest text that reads back
  as the same float) and one column per tag key (empty where a point lacks it).
  ``vigileos import FILE --tag KEY ...`` reads it back;
- ``parquet``: the same columns, ``time`` as timestamp[ns, UTC], one row group per chunk;
- ``lp``: InfluxDB line protocol (measurement ``equipment_metrics``, nanosecond
  timestamps; post with ``precision=ns``), made by :func:`..stores.lineprotocol.encode_lines`.

The store is read in bounded chunks (:mod:`.chunks`). CSV and Parquet need every tag
key in their header before the first row, so chunks are first staged as Parquet in a
temporary folder beside the target; line protocol is written as it is read. The file
is written under a temporary name and renamed when complete. The target is never the
store itself, nor any other DuckDB database file, even with ``overwrite``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..errors import ValidationError
from ..schema import CORE_COLUMNS, normalize_points_frame
from ..stores.base import MetricsStore, Selection
from ..stores.lineprotocol import encode_lines
from . import FORMATS
from .chunks import DEFAULT_CHUNK_POINTS, plan_chunks, read_chunks, tag_columns

#: DuckDB database files carry this at byte 8 (after a checksum).
_DUCKDB_MAGIC = b"DUCK"
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".lp": "lp", ".line": "lp"}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    points: int
    tag_columns: tuple[str, ...]


def export_format(path: Path, format: str | None) -> str:
    """The format asked for, or the one the suffix names."""
    if format is None:
        format = _SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise ValidationError(f"Cannot tell the export format from the name {path.name}; give --format "
                                  f"{'|'.join(FORMATS)} or a name ending in {', '.join(_SUFFIXES)}.",
                                  field="format", value=path.suffix)
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {list(FORMATS)}; got {format!r}.", field="format", value=format)
    return format


def export(store: MetricsStore, selection: Selection, path: str | Path, format: str | None = None, *,
           chunk_points: int = DEFAULT_CHUNK_POINTS, progress: bool = False,
           overwrite: bool = False) -> ExportResult:
    """Write the points of ``selection`` to ``path`` in ``format`` (see module docstring)."""
    target = Path(path)
    format = export_format(target, format)
    _refuse_store_file(store, target)
    if target.exists() and not overwrite:
        raise ValidationError(f"{target} already exists; choose another name or allow overwriting (--overwrite).",
                              field="path", value=str(target))
    token = uuid.uuid4().hex[:8]
    staging = target.parent / f".{target.name}.staging-{token}"
    partial = target.parent / f".{target.name}.partial-{token}"
    staging.mkdir(parents=False)
    try:
        chunks = plan_chunks(store, selection, chunk_points)
        points, tags = 0, set()
        with tqdm(total=sum(c.points for c in chunks), unit="pt", unit_scale=True, desc=f"export {format}",
                  disable=not progress) as bar, open(partial, "wb") as out:
            for index, (_, frame) in enumerate(read_chunks(store, selection, chunks)):
                if frame.empty:
                    continue
                if format == "lp":
                    out.write(encode_lines(normalize_points_frame(frame)).body())
                else:
                    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                                   staging / f"{index:06d}.parquet")
                points += len(frame)
                tags.update(tag_columns(frame))
                bar.update(len(frame))
        columns = [*CORE_COLUMNS, *sorted(tags)]
        if format == "csv":
            _staged_to_csv(staging, partial, columns)
        elif format == "parquet":
            _staged_to_parquet(staging, partial, columns)
        with open(partial, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(target, format, points, tuple(sorted(tags)))


def _refuse_store_file(store: MetricsStore, target: Path) -> None:
    """An export must not replace the live store (its database, write-ahead log or lock
    file) or any DuckDB database with a CSV / Parquet / LP file."""
    if not target.exists():
        return
    try:
        with open(target, "rb") as stream:
            head = stream.read(12)
    except (IsADirectoryError, PermissionError):
        return  # the write itself says why it cannot happen
    if head[8:12] == _DUCKDB_MAGIC:
        raise ValidationError(f"{target} is a DuckDB database; an export never replaces one. Export to another "
                              "file.", field="path", value=str(target))
    location = Path(store.health().location)  # a file path for the embedded store, a URL otherwise
    if target.resolve() in {Path(f"{location.resolve()}{suffix}") for suffix in ("", ".wal", ".lock")}:
        raise ValidationError(f"{target} is one of the store's own files; export to another file.",
                              field="path", value=str(target))


def _staged_frames(staging: Path, columns: list[str]):
    for part in sorted(staging.glob("*.parquet")):
        frame = pq.read_table(part).to_pandas()
        yield frame.reindex(columns=columns)


def _staged_to_csv(staging: Path, target: Path, columns: list[str]) -> None:
    with open(target, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(columns) + "\n")
        for frame in _staged_frames(staging, columns):
            frame.to_csv(out, header=False, index=False, lineterminator="\n")


def _staged_to_parquet(staging: Path, target: Path, columns: list[str]) -> None:
    schema = pa.schema([("time", pa.timestamp("ns", tz="UTC")), ("equipment_id", pa.string()),
                        ("metric_type", pa.string()), ("value", pa.float64()),
                        *[(c, pa.string()) for c in columns[len(CORE_COLUMNS):]]])
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for frame in _staged_frames(staging, columns):
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))

"""Writes that survive server outages: an on-disk, append-only, fsync'd spool.

When an InfluxDB server cannot be reached, or answers 5xx or 429, the store hands
the request bodies it could not post (line protocol) to a :class:`Spool`, and
replays them, oldest first, as soon as the server answers again. Replaying is
safe because InfluxDB writes are idempotent by series and timestamp: a body that
reached the server before the outage was noticed overwrites itself, it does not
count twice.

On disk, a folder of numbered segment files (``0000000001.spool``, ...) holding
records::

    magic b"VSP1" | payload length (uint32) | CRC-32 of the payload (uint32) |
    points in the payload (uint64) | payload

and a ``cursor`` file (segment number and byte offset of the first record not yet
replayed), replaced atomically after each replayed record. Every append is
fsync'd before it returns, so a spooled write survives a crash of this process
too; a record torn by such a crash (short, or with a wrong CRC) at the end of the
newest segment is cut off when the spool is next opened. The spool is bounded
(``max_bytes`` over all segment files): when full, :meth:`Spool.append` raises a
``WriteError`` saying how full it is and what to do; it never drops data.

Processes sharing a spool folder exclude each other with ``flock`` on its
``lock`` file; threads of one process with a lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError, StoreError, WriteError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<4sIIQ")
_MAGIC = b"VSP1"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
DEFAULT_SEGMENT_BYTES = 64 << 20  # 64 MiB


@dataclass(frozen=True)
class SpoolState:
    """What waits in a spool: records (request bodies), points and bytes on disk."""

    records: int
    points: int
    bytes: int


class Spool:
    """An append-only queue of request bodies in ``directory``, replayed in order."""

    def __init__(self, directory: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = int(segment_bytes)
        self._thread_lock = threading.RLock()
        self._recovered = False

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    # -- locking and files ------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o664)
            except OSError as exc:
                raise StoreError(f"Cannot open the write spool {self.directory}: {exc}. "
                                 "Check that the folder is writable, or set another spool folder.") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not self._recovered:
                    self._recover_tail()
                    self._recovered = True
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.spool"))

    def _read_cursor(self) -> tuple[int, int]:
        try:
            segment, offset = (self.directory / "cursor").read_text().split()
            return int(segment), int(offset)
        except (OSError, ValueError):
            return 0, 0

    def _write_cursor(self, segment: int, offset: int) -> None:
        tmp = self.directory / "cursor.tmp"
        with open(tmp, "w") as handle:
            handle.write(f"{segment} {offset}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / "cursor")
        self._fsync_directory()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem)

    def _scan(self, path: Path, start: int = 0) -> Iterator[tuple[int, int, int]]:
        """(offset, payload length, points) of each whole record from ``start``; stops at a torn tail."""
        size = path.stat().st_size
        with open(path, "rb") as handle:
            offset = start
            handle.seek(offset)
            while offset + _HEADER.size <= size:
                magic, length, _crc, points = _HEADER.unpack(handle.read(_HEADER.size))
                if magic != _MAGIC or offset + _HEADER.size + length > size:
                    return
                yield offset, length, points
                offset += _HEADER.size + length
                handle.seek(offset)

    def _recover_tail(self) -> None:
        """Cut a record torn by a crash off the end of the newest segment."""
        segments = self._segments()
        if not segments:
            return
        last = segments[-1]
        end = 0
        for offset, length, _ in self._scan(last):
            end = offset + _HEADER.size + length
        if end < last.stat().st_size:
            logger.warning("Cutting %d bytes of a torn record off the write spool segment %s.",
                           last.stat().st_size - end, last)
            with open(last, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())

    # -- public ----------------------------------------------------------------------

    def state(self) -> SpoolState:
        """Records, points and bytes waiting to be replayed."""
        with self._thread_lock:
            segments = self._segments()
            if not segments:
                return SpoolState(0, 0, 0)
            cursor_segment, cursor_offset = self._read_cursor()
            records = points = size = 0
            for path in segments:
                size += path.stat().st_size
                number = self._number(path)
                if number < cursor_segment:
                    continue
                for _, _, count in self._scan(path, cursor_offset if number == cursor_segment else 0):
                    records += 1
                    points += count
            return SpoolState(records, points, size)

    def __bool__(self) -> bool:
        """True when something waits to be replayed (cheap: looks at the files only)."""
        return bool(self._segments())

    def append(self, payload: bytes, points: int) -> None:
        """Add one request body holding ``points`` points; durable when this returns."""
        record = _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload), points) + payload
        with self._locked():
            segments = self._segments()
            used = sum(p.stat().st_size for p in segments)
            if used + len(record) > self.max_bytes:
                raise WriteError(
                    f"The write spool {self.directory} is full: {used} bytes of its limit of {self.max_bytes} "
                    f"are waiting for the server, and this batch of {points} points ({len(record)} bytes) does not "
                    "fit. Bring the server back (the spool replays itself on the next write), or raise the spool "
                    "limit (spool_max in the store URL)."
                )
            if not segments or segments[-1].stat().st_size + len(record) > self.segment_bytes:
                number = self._number(segments[-1]) + 1 if segments else 1
                target = self.directory / f"{number:010d}.spool"
                if not segments:
                    self._write_cursor(number, 0)
            else:
                target = segments[-1]
            try:
                with open(target, "ab") as handle:
                    handle.write(record)
                    handle.flush()
                    os.fsync(handle.fileno())
                if target not in segments:
                    self._fsync_directory()
            except OSError as exc:
                raise WriteError(f"Cannot append {points} points to the write spool {target}: {exc}. "
                                 "Free disk space or choose another spool folder.") from exc

    def replay(self, send: Callable[[bytes], None]) -> int:
        """Call ``send(payload)`` for every record, oldest first; returns the points sent.

        A record is marked done only after ``send`` returned; when ``send`` raises,
        replay stops there and the exception propagates: that record is tried again
        first next time. A record whose CRC does not match raises ``StoreError``.
        """
        sent = 0
        with self._locked():
            segments = self._segments()
            cursor_segment, cursor_offset = self._read_cursor()
            for index, path in enumerate(segments):
                number = self._number(path)
                if number < cursor_segment:
                    path.unlink()
                    continue
                start = cursor_offset if number == cursor_segment else 0
                with open(path, "rb") as handle:
                    for offset, length, points in self._scan(path, start):
                        handle.seek(offset)
                        _, _, crc, _ = _HEADER.unpack(handle.read(_HEADER.size))
                        payload = handle.read(length)
                        if zlib.crc32(payload) != crc:
                            raise StoreError(
                                f"The write spool segment {path} is damaged at byte {offset} (checksum mismatch). "
                                "Move the spool folder aside to go on; its records from that byte on are lost."
                            )
                        send(payload)
                        sent += points
                        self._write_cursor(number, offset + _HEADER.size + length)
                if index + 1 < len(segments):
                    path.unlink()
                    self._write_cursor(self._number(segments[index + 1]), 0)
            for path in self._segments():
                path.unlink()
            (self.directory / "cursor").unlink(missing_ok=True)
            self._fsync_directory()
        if sent:
            logger.info("Replayed %d spooled points from %s.", sent, self.directory)
        return sent


SIZE_RE = re.compile(r"^\s*(\d+)\s*(|B|KiB|MiB|GiB)\s*$")
SIZE_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``500MiB`` or ``2GiB`` (the ``spool_max`` URL option)."""
    match = SIZE_RE.match(text)
    if not match:
        raise ConfigurationError(f"spool_max must be a size such as 500MiB or 2GiB; got {text!r}.")
    return int(match.group(1)) * SIZE_UNITS[match.group(2)]

"""The equipment inventory: a user-supplied CSV with one row per equipment.

Required column ``equipment_id``; ``name``, ``type`` and ``location`` are used
when present; other columns are kept as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .errors import ConfigurationError, ValidationError
from .schema import validate_equipment_id

INVENTORY_COLUMNS = ["equipment_id", "name", "type", "location"]


def empty_inventory() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in INVENTORY_COLUMNS})


def validate_inventory(frame: pd.DataFrame, source: str = "inventory") -> pd.DataFrame:
    """Check ids (present, valid, unique) and fill name/type/location defaults."""
    if "equipment_id" not in frame.columns:
        raise ConfigurationError(f"{source} needs an 'equipment_id' column; found {list(frame.columns)}.")
    frame = frame.copy()
    frame["equipment_id"] = frame["equipment_id"].astype("string").str.strip()
    for line, value in enumerate(frame["equipment_id"], start=2):
        try:
            validate_equipment_id(value if isinstance(value, str) else None)
        except ValidationError as exc:
            raise ConfigurationError(f"{source}, line {line}: {exc}") from exc
    duplicated = frame["equipment_id"][frame["equipment_id"].duplicated()]
    if not duplicated.empty:
        raise ConfigurationError(f"{source}: equipment_id {duplicated.iloc[0]!r} appears more than once.")
    frame["equipment_id"] = frame["equipment_id"].astype(object)
    if "name" not in frame:
        frame["name"] = frame["equipment_id"]
    frame["name"] = frame["name"].fillna(frame["equipment_id"])
    for column in ("type", "location"):
        if column not in frame:
            frame[column] = ""
        frame[column] = frame[column].fillna("")
    return frame.reset_index(drop=True)


def load_inventory(path: str | Path | None) -> pd.DataFrame:
    """The inventory at ``path``; an empty one when the file does not exist."""
    if path is None or not Path(path).is_file():
        return empty_inventory()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ConfigurationError(f"Cannot read the inventory {path}: {exc}") from exc
    return validate_inventory(frame, str(path))


def write_inventory(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    validate_inventory(frame, str(path)).to_csv(path, index=False)
    return path


def require_known_equipment(ids: Sequence[str], known: Sequence[str], field: str = "equipment_id") -> None:
    """Raise ValidationError naming every id of ``ids`` that is not in ``known`` (the inventory and
    the store's equipment); linear in both, so 10,000 ids cost milliseconds."""
    known_set = set(known)
    unknown = [e for e in ids if e not in known_set]
    if unknown:
        raise ValidationError(f"unknown equipment {_first_ten(list(map(repr, unknown)))}: neither in the inventory "
                              f"nor in the store. Known: {_first_ten(list(known))}.", field=field, value=unknown[0])


def _first_ten(items: list[str]) -> str:
    return ", ".join(items[:10]) + (f" and {len(items) - 10:,} more" if len(items) > 10 else "")

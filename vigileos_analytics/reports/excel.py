"""The Excel workbook of a report: one sheet per table the notebook showed.

Headers are the translated column names with their unit; durations are written in
hours; datetimes are written as naive UTC (Excel has no time zones) and their
header says "(UTC)". Numbers stay numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..i18n import Translator

_INVALID_SHEET = re.compile(r"[\[\]:*?/\\]")


def sheet_frame(frame: pd.DataFrame, kinds: dict[str, str], tr: Translator) -> pd.DataFrame:
    """``frame`` ready for a sheet: readable headers, hours for durations, naive UTC times."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        kind = kinds.get(column, "text")
        values = frame[column]
        title = tr.label("columns", column)
        if kind == "duration":
            values, title = values.astype("float64") / 3600.0, f"{title} ({tr.t('units.hours')})"
        elif kind in ("datetime", "date"):
            values = pd.to_datetime(values, utc=True).dt.tz_localize(None)
            values = values.dt.normalize() if kind == "date" else values
            title = f"{title} (UTC)"
        elif kind == "pct" and "%" not in title:
            title = f"{title} (%)"
        elif kind == "status":
            values = values.map(lambda v: tr.label("status", v))
        elif kind == "metric":
            values = values.map(lambda v: tr.label("metrics", v))
        out[title] = values.to_numpy() if hasattr(values, "to_numpy") else values
    return out


def write_workbook(tables_dir: Path, target: Path, tr: Translator) -> list[str]:
    """Write every table saved in ``tables_dir`` (in the order shown) to ``target``;
    returns the sheet names."""
    sheets: list[str] = []
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for path in sorted(tables_dir.glob("*.pkl")):
            key = path.stem.split("_", 1)[1]
            frame = pd.read_pickle(path)
            kinds = json.loads(path.with_suffix(".kinds.json").read_text(encoding="utf-8"))
            name = _INVALID_SHEET.sub(" ", tr.t(f"tables.{key}"))[:31]
            sheet_frame(frame, kinds, tr).to_excel(writer, sheet_name=name, index=False)
            _fit_columns(writer.sheets[name])
            sheets.append(name)
        if not sheets:
            pd.DataFrame({tr.t("common.no_rows"): []}).to_excel(writer, sheet_name="-", index=False)
    return sheets


def _fit_columns(sheet) -> None:
    """Widen columns to their header and freeze the header row."""
    for cells in sheet.iter_cols(min_row=1, max_row=min(sheet.max_row, 200)):
        width = max(len(str(c.value)) if c.value is not None else 0 for c in cells)
        sheet.column_dimensions[cells[0].column_letter].width = min(max(width + 2, 10), 50)
    sheet.freeze_panes = "A2"

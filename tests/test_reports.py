"""Report notebooks on a real kernel against a small seeded store: the outputs (PDF,
Excel, HTML), parameter errors and exit codes, a failing notebook, batch mode, and
nbval over every report notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import nbformat
import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.cli.report import report
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.reports import parse_parameters, run_batch, run_report
from vigileos_analytics.stores import open_store

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks" / "reports"
#: Same fleet as scripts/refresh_report_outputs.py (the outputs nbval checks).
FLEET = FleetSpec(equipment=4, days=10, end=datetime(2024, 1, 15, tzinfo=UTC), seed=11, gaps_per_month=0.0)
PERIOD = {"start": "2024-01-05", "end": "2024-01-15"}


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("report-fleet")
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    fleet = simulate_into_store(store, FLEET, folder / "inventory.csv", progress=False).fleet
    return folder, fleet


@pytest.fixture(scope="module")
def base_params(fleet_dir) -> dict:
    folder, _ = fleet_dir
    return {"store_url": f"duckdb:///{folder / 'metrics.duckdb'}", "inventory": str(folder / "inventory.csv"), **PERIOD}


def truth_availability(fleet) -> dict[str, tuple[float, float]]:
    """(availability %, downtime h) per equipment from the simulator's events on its minute
    grid, maintenance excluded: independent of the analytics code."""
    step = 60 * 10**9
    times = np.arange(FLEET.start_ns, FLEET.end_ns, step)
    out = {}
    for eq in fleet.inventory["equipment_id"]:  # a test oracle: 4 equipment
        state = np.zeros(len(times), dtype=int)  # 0 up, 1 maintenance, 2 down (failures win, as simulated)
        for frame, value, a, b in ((fleet.maintenance, 1, "start", "end"),
                                   (fleet.failures, 2, "failure_time", "repair_time")):
            for s, e in zip(frame.loc[frame["equipment_id"] == eq, a], frame.loc[frame["equipment_id"] == eq, b],
                            strict=True):
                state[(times >= s) & (times < e)] = value
        up, down = (state == 0).sum(), (state == 2).sum()
        out[eq] = (100.0 * up / (up + down), down / 60.0)
    return out


def colored_share(pdf: Path, tmp_path: Path) -> tuple[float, float]:
    """Shares of non-white and of strongly colored pixels on the PDF's first page."""
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    ppm = next(tmp_path.glob("page*.ppm")).read_bytes()
    parts = ppm.split(maxsplit=4)  # P6 width height maxval data
    width, height = int(parts[1]), int(parts[2])
    pixels = np.frombuffer(parts[4][: width * height * 3], dtype=np.uint8).reshape(-1, 3).astype(int)
    non_white = (pixels.min(axis=1) < 235).mean()
    colored = ((pixels.max(axis=1) - pixels.min(axis=1)) > 80).mean()
    return non_white, colored


def headers_missing_from_pdf(html_text: str, pdf: Path) -> Counter:
    """Words of the table headers in the HTML that the PDF does not print (as often): the
    columns of a table wider than the page are cut off on paper."""
    heads = Counter(word for th in re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", html_text) for word in unescape(th).split()
                    if len(word) > 1)  # pdftotext may glue a one-letter unit to a number ("7j")
    return heads - Counter(pdf_text(pdf).split())


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.notebook
def test_monthly_report_pdf_excel_html(fleet_dir, base_params, tmp_path) -> None:
    _, fleet = fleet_dir
    out = run_report("monthly_availability", base_params, tmp_path / "reports", progress=False)
    assert out.folder == tmp_path / "reports" / "monthly_availability" / "2024-01-05_2024-01-15"
    assert {p.suffix for p in out.files} == {".ipynb", ".html", ".pdf", ".xlsx"}

    non_white, colored = colored_share(out.pdf, tmp_path)
    assert non_white > 0.05 and colored > 0.02, (non_white, colored)  # text and a chart on page 1
    # Portrait A4; every column of the availability table on the page, nothing cut at the right.
    assert "594.96 x 841.92 pts (A4)" in subprocess.run(["pdfinfo", str(out.pdf)], capture_output=True,
                                                         text=True, check=True).stdout
    assert "Availability per day" in " ".join(pdf_text(out.pdf).split())
    assert not headers_missing_from_pdf(out.html.read_text(encoding="utf-8"), out.pdf)

    html = out.html.read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot(") == 2  # ranking and heatmap, drawn by embedded plotly.js
    assert "plotly.js v" in html or "plotly-latest" not in html
    assert "show_table(ctx" not in html  # no code

    book = openpyxl.load_workbook(out.xlsx)
    assert book.sheetnames == ["Availability", "Daily availability", "Longest outages"]
    rows = list(book["Availability"].values)
    header = rows[0]
    assert header[:4] == ("Rank", "Equipment", "Name", "Site")
    col = {name: i for i, name in enumerate(header)}
    truth = truth_availability(fleet)
    # The period is the last 10 days (the whole simulated span, which starts 2024-01-05).
    for row in rows[1:]:
        expected_pct, expected_down_h = truth[row[col["Equipment"]]]
        assert row[col["Availability (%)"]] == pytest.approx(expected_pct, abs=1e-9)
        assert row[col["Downtime (h)"]] == pytest.approx(expected_down_h, abs=1e-9)
    days = list(book["Daily availability"].values)
    assert days[0][2] == "Day (UTC)" and isinstance(days[1][2], datetime) and days[1][2].tzinfo is None
    assert len(days) - 1 == 4 * 10


@pytest.mark.notebook
@pytest.mark.parametrize("name", ["equipment_detail", "trend_analysis", "equipment_comparison"])
def test_other_reports_run_in_french(name, base_params, tmp_path) -> None:
    params = base_params | {"language": "fr", "formats": ["html", "pdf", "xlsx"]}
    out = run_report(name, params, tmp_path, progress=False)
    html = out.html.read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot(") >= 2
    assert "05/01/2024" in html  # French dates
    assert out.xlsx is not None and len(out.sheets) >= 1
    # French headers are longer: still every column of every table on the page.
    assert not headers_missing_from_pdf(html, out.pdf)


@pytest.mark.notebook
def test_pdf_of_equipment_detail_has_a_chart_on_page_one(base_params, tmp_path) -> None:
    out = run_report("equipment_detail", base_params | {"equipment": ["EQ-0002"], "formats": ["pdf"]}, tmp_path,
                     progress=False)
    assert out.html is None and not out.notebook.with_suffix(".html").exists()
    assert colored_share(out.pdf, tmp_path)[1] > 0.02


@pytest.mark.parametrize(("override", "message"), [
    (["-p", "equipment=[EQ-9999]"], "unknown equipment 'EQ-9999'"),
    (["-p", "start=2024-01-10", "-p", "end=2024-01-05"], "ends before it starts"),
    (["-p", "month=2024-13", "-p", "start=null", "-p", "end=null"], "must be a month written YYYY-MM"),
    (["-p", "colour=red"], "Unknown report parameter(s) 'colour'"),
    (["-p", "site=Mars"], "Unknown site 'Mars'"),
])
def test_bad_parameters_exit_3_before_any_kernel(override, message, base_params, tmp_path) -> None:
    param_file = tmp_path / "p.yaml"
    param_file.write_text(f"inventory: {base_params['inventory']}\nstart: 2024-01-05\nend: 2024-01-15\n")
    result = CliRunner().invoke(report, ["monthly_availability", "-f", str(param_file), *override, "-o",
                                         str(tmp_path / "out")], obj=AppContext(base_params["store_url"]))
    assert result.exit_code == 3, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_parameter_file_errors_are_validation_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("month: [2024\n")
    result = CliRunner().invoke(report, ["monthly_availability", "-f", str(bad)], obj=AppContext("duckdb:///x.duckdb"))
    assert result.exit_code == 3 and "is not valid YAML" in result.output
    with pytest.raises(ValidationError, match="either month or start / end"):
        parse_parameters({"month": "2024-01", "start": "2024-01-01", "end": "2024-01-02"})


@pytest.mark.notebook
def test_failing_notebook_exit_6_names_the_cell_and_keeps_the_notebook(base_params, tmp_path, monkeypatch) -> None:
    broken = tmp_path / "notebooks"
    broken.mkdir()
    nb = nbformat.read(NOTEBOOKS / "monthly_availability.ipynb", as_version=4)
    nb.cells[3].source = "raise RuntimeError('the disk is on fire')"
    nbformat.write(nb, broken / "monthly_availability.ipynb")
    monkeypatch.setenv("VIGILEOS_REPORTS_DIR", str(broken))
    result = CliRunner().invoke(report, ["monthly_availability", "-p", f"inventory={base_params['inventory']}",
                                         *sum((["-p", f"{k}={v}"] for k, v in PERIOD.items()), []), "-q",
                                         "-o", str(tmp_path / "out")], obj=AppContext(base_params["store_url"]))
    assert result.exit_code == 6, result.output
    text = " ".join(result.output.split())
    # In [5]: parameters, papermill's injected parameters, setup, fleet overview, then the broken cell.
    assert "failed in cell In [5]" in text and "raise RuntimeError('the disk is on fire')" in text
    kept = tmp_path / "out" / "monthly_availability" / "2024-01-05_2024-01-15" / "monthly_availability.ipynb"
    assert kept.is_file() and str(kept) in result.output.replace("\n", "")


@pytest.mark.notebook
def test_batch_per_site_in_parallel(base_params, tmp_path) -> None:
    params = {k: v for k, v in base_params.items() if k not in PERIOD} | {
        "month": "2024-01", "formats": ["xlsx"], "equipment": ["EQ-0001", "EQ-0002", "EQ-0003"]}
    out = run_batch("equipment_comparison", params, "site", tmp_path, workers=3, progress=False)
    assert out.folder == tmp_path / "equipment_comparison" / "2024-01"
    sites = sorted(p.folder.name for p in out.reports)
    assert sites == ["Lille-Plant", "Lyon-DC2", "Paris-DC1"]
    assert all(p.xlsx.is_file() for p in out.reports)


@pytest.mark.notebook
def test_cli_report_prints_where_the_files_are(base_params, tmp_path) -> None:
    result = CliRunner().invoke(report, ["trend_analysis", "-p", f"inventory={base_params['inventory']}", "-p",
                                         "formats=[xlsx]", "-p", "start=2024-01-05", "-p", "end=2024-01-15", "-q",
                                         "-o", str(tmp_path)], obj=AppContext(base_params["store_url"]))
    assert result.exit_code == 0, result.output
    assert "trend_analysis.xlsx" in result.output.replace("\n", "")


@pytest.mark.notebook
def test_nbval_runs_every_report_notebook(fleet_dir, tmp_path) -> None:
    """nbval in a child pytest (its own kernel per notebook) against the seeded fleet."""
    folder, _ = fleet_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGILEOS_")}
    env |= {"VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
            "VIGILEOS_INVENTORY": str(folder / "inventory.csv")}
    notebooks = tmp_path / "nb"
    shutil.copytree(NOTEBOOKS, notebooks)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "--rootdir", str(ROOT),
                           "-c", str(ROOT / "pyproject.toml"), str(notebooks)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_chart_without_data_says_so_instead_of_drawing_empty_axes(language) -> None:
    """A period with no status data (e.g. imported CPU series only) drew empty axes spanning
    the year 2000; every chart now says there is nothing to show, in the report's language."""
    import pandas as pd

    from vigileos_analytics.i18n import Translator
    from vigileos_analytics.reports import charts

    tr = Translator(language)
    empty = pd.DataFrame({"equipment_id": pd.Series(dtype=str), "name": pd.Series(dtype=str),
                          "status": pd.Series(dtype=str), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                          "end": pd.Series(dtype="datetime64[ns, UTC]"), "duration_s": pd.Series(dtype=float)})
    figure = charts.state_timeline(empty, tr)
    assert [a.text for a in figure.layout.annotations] == [tr.t("common.no_rows")]
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
    one = pd.DataFrame({
        "equipment_id": ["EQ-1"], "name": ["Server 1"], "status": ["operational"],
        "start": pd.to_datetime(["2024-01-01"], utc=True), "end": pd.to_datetime(["2024-01-02"], utc=True),
        "duration_s": [86400.0]})
    drawn = charts.state_timeline(one, tr)
    assert not drawn.layout.annotations and drawn.layout.xaxis.visible is not False


@pytest.mark.notebook
def test_batch_by_site_keeps_every_report_inside_the_output_folder(base_params, tmp_path) -> None:
    """Site names come from the inventory: a site named '..' wrote its report one level up.
    Each site now gets one plain folder name under the batch folder."""
    import pandas as pd

    inventory = pd.read_csv(base_params["inventory"])
    inventory.loc[inventory["equipment_id"] == "EQ-0001", "location"] = ".."
    inventory.loc[inventory["equipment_id"] == "EQ-0002", "location"] = "../../escape"
    inventory.to_csv(tmp_path / "inventory.csv", index=False)
    out = tmp_path / "work" / "out"
    result = CliRunner().invoke(report, ["equipment_comparison", "--batch", "site", "--workers", "2", "-q",
                                         "-p", f"inventory={tmp_path / 'inventory.csv'}", "-p", "month=2024-01",
                                         "-p", "equipment=[EQ-0001, EQ-0002]", "-p", "formats=[xlsx]", "-o", str(out)],
                                obj=AppContext(base_params["store_url"]))
    assert result.exit_code == 0, result.output
    batch_folder = out / "equipment_comparison" / "2024-01"
    # '_' for each unsafe character, then '-' and the first 8 hex digits of the site's SHA-1.
    assert sorted(p.name for p in batch_folder.iterdir()) == ["__-9d891e73", "___.._escape-c1a232ee"]
    assert sorted(p.name for p in (batch_folder / "__-9d891e73").iterdir()) == [
        "equipment_comparison.ipynb", "equipment_comparison.xlsx"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]
    assert sorted(p.name for p in (out / "equipment_comparison").iterdir()) == ["2024-01"]


@pytest.mark.parametrize(("key", "folder"), [
    ("Paris-DC1", "Paris-DC1"),
    (".", "_-3a52ce78"),
    (".hidden", "_hidden-92f73832"),
    ("a/b", "a_b-3ec69c85"),
    ("a_b", "a_b"),
    ("C:\\sites\\x", "C__sites_x-8b1d9f94"),
    ("nul\x00byte", "nul_byte-3cffbd71"),
])
def test_item_folder_names_are_one_plain_name(key, folder) -> None:
    from vigileos_analytics.reports.batch import item_folder_name

    assert item_folder_name(key) == folder


def test_a_long_item_name_is_cut_to_96_bytes_and_stays_distinct() -> None:
    from vigileos_analytics.reports.batch import item_folder_name

    first, second = item_folder_name("é" * 300), item_folder_name("é" * 301)
    assert first != second and first.endswith("-b99897d5")  # the first 8 hex digits of the SHA-1 of "é" * 300
    assert len(first.encode()) <= 96 and first.startswith("é" * 43) and "/" not in first


def test_run_report_refuses_a_subfolder_that_is_a_path(base_params, tmp_path) -> None:
    for subfolder in ("..", "a/b", "", "x\\y"):
        with pytest.raises(ValidationError, match="subfolder must be one folder name"):
            run_report("monthly_availability", base_params, tmp_path, subfolder=subfolder, progress=False)
    assert not any(tmp_path.iterdir())


def _outputs(notebook: Path) -> list:
    """Execution counts and outputs of the code cells; the per-run temporary folder and
    plotly's random div ids set aside."""
    nb = nbformat.read(notebook, as_version=4)
    text = [(cell.execution_count, str([{k: v for k, v in out.items() if k != "metadata"} for out in cell.outputs]))
            for cell in nb.cells if cell.cell_type == "code"]
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return [(count, re.sub(uuid, "ID", re.sub(r"vg-tables-\w+", "TABLES", out))) for count, out in text]


@pytest.mark.notebook
def test_a_report_on_a_reused_batch_kernel_is_the_same_as_on_a_fresh_one(base_params, tmp_path) -> None:
    """One worker runs both reports of the batch on one kernel: the second notebook must not
    see the first one's variables, counts from In [1] and embeds plotly.js again."""
    params = {k: v for k, v in base_params.items() if k not in PERIOD} | {"month": "2024-01", "formats": ["xlsx"]}
    batch = run_batch("equipment_detail", params | {"equipment": ["EQ-0001", "EQ-0002"]}, "equipment",
                      tmp_path / "batch", workers=1, progress=False)
    fresh = run_report("equipment_detail", params | {"equipment": ["EQ-0002"]}, tmp_path / "fresh", progress=False)
    second = _outputs(batch.reports[1].notebook)
    assert second == _outputs(fresh.notebook)
    assert [count for count, _ in second] == list(range(1, len(second) + 1))
    assert sum("plotly.js v" in out for _, out in second) == 1  # the bundle, with the first chart

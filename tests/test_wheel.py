"""The built wheel is the whole product: installed with pip (not editable) into a fresh
virtual environment, it runs the simulator, every report (PDF included), the dashboards,
JupyterLab on the getting-started notebook, alerts and predictions from an empty folder
outside the checkout.

The wheel is built from this checkout with pip and installed with the verified versions
(constraints.txt); the dependencies come from the package index (or pip's cache).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vigileos_analytics.dashboards.server import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.wheel, pytest.mark.slow]


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIGILEOS_", "INFLUXDB_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv holding the wheel built from this checkout, and an empty working folder."""
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, work = base / "dist", base / "venv", base / "work"
    had_build_dir = (ROOT / "build").exists()
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                       check=True, capture_output=True, text=True, timeout=300)
    finally:
        if not had_build_dir:
            shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools builds in the source tree
    wheel = next(dist.glob("vigileos_analytics-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                              "-c", str(ROOT / "constraints.txt"), str(wheel)],
                             capture_output=True, text=True, timeout=1200, env=_clean_env(venv))
    assert install.returncode == 0, install.stderr[-3000:]
    work.mkdir()
    return {"venv": venv, "work": work, "wheel": wheel}


@pytest.fixture(scope="module")
def fleet(installed: dict[str, Path]) -> dict[str, Path]:
    """Six simulated equipment over the three weeks before 2024-03-01, in the default store."""
    _vigileos(installed, "simulate", "-n", "6", "--days", "21", "--end", "2024-03-01", "--seed", "3", "-q")
    assert (installed["work"] / "data" / "metrics.duckdb").is_file()
    return installed


def _vigileos(installed: dict[str, Path], *args: str, timeout: float = 300,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(installed["venv"] / "bin" / "vigileos"), *args], cwd=installed["work"],
                            env=env or _clean_env(installed["venv"]), capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"vigileos {' '.join(args)} exited {result.returncode}:\n" \
                                   f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_package_comes_from_the_venv_not_the_checkout(installed):
    out = subprocess.run([str(installed["venv"] / "bin" / "python"), "-c",
                          "import vigileos_analytics, vigileos_analytics.templates as t;"
                          "print(vigileos_analytics.__file__); print(t.bundled_dir('notebooks'))"],
                         cwd=installed["work"], env=_clean_env(installed["venv"]), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    site = str(installed["venv"] / "lib")
    assert all(line.startswith(site) for line in out), out
    assert not any(str(ROOT) in line for line in out)


def test_every_report_with_its_pdf(fleet):
    installed = fleet
    runs = {"monthly_availability": ["-p", "month=2024-02"],
            "equipment_detail": ["-p", "month=2024-02", "-p", "equipment=EQ-0001"],
            "trend_analysis": ["-p", "month=2024-02"],
            "equipment_comparison": ["-p", "month=2024-02", "-p", "equipment=EQ-0001,EQ-0002"]}
    for name, params in runs.items():
        out = _vigileos(installed, "report", name, *params, "-q").stdout
        folder = installed["work"] / "reports" / name / "2024-02"
        for suffix in (".ipynb", ".html", ".pdf", ".xlsx"):
            path = folder / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, f"{path} missing; the command said:\n{out}"
        assert (folder / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_alerts_check_uses_the_rules_that_come_with_the_package(fleet):
    installed = fleet
    out = _vigileos(installed, "alerts", "check", "--at", "2024-03-01", "--json").stdout
    document = json.loads(out)
    assert document["rules"].startswith(str(installed["venv"])) and document["rules"].endswith("alert_rules.yaml")
    listed = _vigileos(installed, "alerts", "list", "--start", "2024-02-01", "--end", "2024-03-02", "--json").stdout
    assert isinstance(json.loads(listed), list)


def test_predict_train_and_score(fleet):
    installed = fleet
    _vigileos(installed, "predict", "train", "--start", "2024-02-09", "--end", "2024-03-01", "--model",
              "isolation_forest", "--no-evaluate")
    assert (installed["work"] / "models" / "failure_model.joblib").is_file()
    scored = json.loads(_vigileos(installed, "predict", "score", "--at", "2024-03-01", "--json").stdout)
    assert scored and {"equipment_id", "risk"} <= set(scored[0])


def test_dashboard_serves_the_bundled_pages(fleet):
    installed = fleet
    port = free_port()
    process = subprocess.Popen([str(installed["venv"] / "bin" / "vigileos"), "dashboard", "--no-browser",
                                "--port", str(port)], cwd=installed["work"], env=_clean_env(installed["venv"]),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Fleet overview:" in line for line in lines):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            lines.append(line)
        url = next((re.search(r"(http://\S+)", line).group(1) for line in lines if "Fleet overview:" in line), None)
        assert url, "".join(lines)
        with urllib.request.urlopen(url + "?now=2024-03-01T00:00:00Z", timeout=120) as response:
            page = response.read().decode("utf-8", "replace")
        assert response.status == 200 and "Traceback" not in page
        assert "fleet_overview" in page or "voila" in page.lower()
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Dashboards stopped" in rest


def test_lab_copies_the_getting_started_notebook_and_serves_it(fleet):
    installed = fleet
    port = free_port()
    process = subprocess.Popen([str(installed["venv"] / "bin" / "vigileos"), "lab", "--no-browser", "--port", str(port),
                                "--dir", "lab"], cwd=installed["work"], env=_clean_env(installed["venv"]),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("JupyterLab: " in line for line in lines):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            lines.append(line)
        url = next((re.search(r"(http://\S+)", line).group(1) for line in lines if "JupyterLab: " in line), None)
        assert url, "".join(lines)
        with urllib.request.urlopen(url, timeout=60) as response:
            assert response.status == 200
        notebook = installed["work"] / "lab" / "getting_started.ipynb"
        assert notebook.read_bytes() == (ROOT / "notebooks" / "getting_started.ipynb").read_bytes()
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "JupyterLab stopped" in rest


def test_templates_copy_gives_editable_copies_the_settings_point_at(fleet):
    installed = fleet
    out = _vigileos(installed, "templates", "copy", "mine").stdout
    copies = installed["work"] / "mine"
    assert (copies / "notebooks" / "reports" / "monthly_availability.ipynb").is_file()
    assert (copies / "notebooks" / "dashboards" / "fleet_overview.ipynb").is_file()
    assert (copies / "parameters" / "alert_rules.yaml").is_file()
    assert f"VIGILEOS_ALERT_RULES={copies.resolve() / 'parameters' / 'alert_rules.yaml'}" in out
    # The user edits the rules: one rule left; the check reads the copy, not the bundled file.
    rules = copies / "parameters" / "alert_rules.yaml"
    rules.write_text("rules:\n  - {name: only_cpu, kind: threshold, metric: cpu_usage, window: 1h,"
                     " function: mean, threshold: 1000, severity: info}\n")
    env = _clean_env(installed["venv"]) | {"VIGILEOS_ALERT_RULES": str(rules)}
    listed = json.loads(_vigileos(installed, "templates", "list", "--json", env=env).stdout)
    assert {row["what"]: row["from"] for row in listed}["alert rules"] == "VIGILEOS_ALERT_RULES"
    document = json.loads(_vigileos(installed, "alerts", "check", "--at", "2024-03-01", "--json", env=env).stdout)
    assert document["rules"] == str(rules)

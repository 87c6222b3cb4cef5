"""Where the notebooks and parameter files in use come from, editable copies of them, and
the packaging that carries them in the wheel (tests/test_wheel.py installs that wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.config import load_settings
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.reports.runner import notebooks_dir
from vigileos_analytics.templates import (
    alert_rules_path,
    bundled_dir,
    copy_templates,
    dashboards_dir,
    parameter_file,
    reports_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def test_an_editable_install_reads_the_source_folders():
    assert bundled_dir("notebooks") == ROOT / "notebooks"
    assert bundled_dir("parameters") == ROOT / "parameters"
    settings = load_settings(environ={}, dotenv_path=None)
    assert reports_dir(settings) == ROOT / "notebooks" / "reports"
    assert dashboards_dir(settings) == ROOT / "notebooks" / "dashboards"
    assert alert_rules_path(settings) == ROOT / "parameters" / "alert_rules.yaml"
    assert parameter_file("monthly_availability_fr") == ROOT / "parameters" / "monthly_availability_fr.yaml"


def test_settings_name_other_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = {"VIGILEOS_REPORTS_DIR": str(tmp_path / "r"), "VIGILEOS_DASHBOARDS_DIR": str(tmp_path / "d"),
           "VIGILEOS_ALERT_RULES": str(tmp_path / "rules.yaml")}
    settings = load_settings(environ=env, dotenv_path=None)
    assert reports_dir(settings) == tmp_path / "r"
    assert dashboards_dir(settings) == tmp_path / "d"
    assert alert_rules_path(settings) == tmp_path / "rules.yaml"
    # The report runner reads the same setting, from the environment or a .env file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"VIGILEOS_REPORTS_DIR={tmp_path / 'from-dotenv'}\n")
    assert notebooks_dir() == tmp_path / "from-dotenv"


def test_bad_names_are_refused_with_what_exists():
    with pytest.raises(ValidationError, match="known: .*monthly_availability"):
        parameter_file("monthly")
    with pytest.raises(ValidationError, match="kind must be one of notebooks, parameters"):
        bundled_dir("models")  # type: ignore[arg-type]


def test_copy_keeps_existing_files_unless_forced(tmp_path: Path):
    target = tmp_path / "mine"
    first = copy_templates(target)
    sources = sorted(p.relative_to(ROOT) for folder in ("notebooks", "parameters")
                     for p in (ROOT / folder).rglob("*") if p.suffix in {".ipynb", ".yaml"})
    assert sorted(p.relative_to(target) for p in first.copied) == sources
    rules = target / "parameters" / "alert_rules.yaml"
    assert rules.read_bytes() == (ROOT / "parameters" / "alert_rules.yaml").read_bytes()
    rules.write_text("rules: []\n")
    second = copy_templates(target)
    assert rules in second.kept and len(second.copied) == 0 and rules.read_text() == "rules: []\n"
    third = copy_templates(target, overwrite=True)
    assert rules in third.copied and rules.read_bytes() == (ROOT / "parameters" / "alert_rules.yaml").read_bytes()
    assert first.settings()["VIGILEOS_ALERT_RULES"] == str(rules.resolve())


def test_copy_into_a_file_is_refused(tmp_path: Path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ValidationError, match="is a file"):
        copy_templates(tmp_path / "taken")


def test_cli_copy_then_list_shows_the_copies_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    copied = runner.invoke(main, ["templates", "copy", "tpl"])
    assert copied.exit_code == 0, copied.output
    lines = [line.strip() for line in copied.output.splitlines() if line.strip().startswith("VIGILEOS_")]
    assert [line.split("=")[0] for line in lines] == ["VIGILEOS_REPORTS_DIR", "VIGILEOS_DASHBOARDS_DIR",
                                                      "VIGILEOS_ALERT_RULES", "VIGILEOS_SLAS"]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")  # as the command suggests
    listed = runner.invoke(main, ["templates", "list"])
    assert listed.exit_code == 0, listed.output
    assert "(VIGILEOS_ALERT_RULES)" in listed.output and str(tmp_path / "tpl" / "parameters") in listed.output
    assert "(missing)" not in listed.output


def test_a_missing_rules_file_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIGILEOS_ALERT_RULES", str(tmp_path / "absent.yaml"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--store", f"duckdb:///{tmp_path / 's.duckdb'}", "alerts", "check"])
    assert result.exit_code == 4
    assert "absent.yaml does not exist" in result.output and "unset VIGILEOS_ALERT_RULES" in result.output


def test_a_broken_install_says_so():
    """An installed package without its notebooks (a broken build) names the folders it looked in."""
    import vigileos_analytics.templates as templates

    original = templates.__file__
    try:
        templates.__file__ = "/nonexistent/site-packages/vigileos_analytics/templates/__init__.py"
        with pytest.raises(ConfigurationError, match="reinstall"):
            templates.bundled_dir("notebooks")
    finally:
        templates.__file__ = original


def test_pyproject_lists_every_package_and_data_folder():
    """setuptools takes an explicit package list (the templates are mapped from the top-level
    folders): a package or data folder missing from it would be missing from the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    package_root = ROOT / "vigileos_analytics"
    on_disk = {"vigileos_analytics"} | {
        "vigileos_analytics." + ".".join(p.relative_to(package_root).parts)
        for p in package_root.rglob("*") if p.is_dir() and p.name != "__pycache__"
        and any(child.suffix in {".py", ".yaml", ".ipynb"} for child in p.iterdir())}
    mapped = {name + "." + ".".join(p.relative_to(ROOT / folder).parts) if p != ROOT / folder else name
              for name, folder in config["package-dir"].items()
              for p in [ROOT / folder, *(ROOT / folder).rglob("*")] if p.is_dir()
              and any(child.suffix in {".ipynb", ".yaml"} for child in p.iterdir())}
    assert on_disk | mapped == listed
    assert set(config["package-data"]) <= listed

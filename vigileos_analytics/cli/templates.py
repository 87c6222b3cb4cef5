"""``vigileos templates``: where the report and dashboard notebooks and the alert rules in use
come from, and editable copies of them."""

from __future__ import annotations

from pathlib import Path

import click

from .common import AppContext, console, emit_json, handle_errors, json_option, pass_app, styled


@click.group("templates")
def templates() -> None:
    """The report and dashboard notebooks and parameter files that come with the package."""


@templates.command("list")
@json_option
@pass_app
@handle_errors
def list_(app: AppContext, as_json: bool) -> None:
    """Show which notebooks, alert rules and SLA definitions are in use, and whether they come from a setting."""
    from ..templates import alert_rules_path, bundled_dir, dashboards_dir, reports_dir, slas_path

    settings = app.settings
    rows = [("report notebooks", "VIGILEOS_REPORTS_DIR", settings.reports_dir, reports_dir(settings)),
            ("dashboard notebooks", "VIGILEOS_DASHBOARDS_DIR", settings.dashboards_dir, dashboards_dir(settings)),
            ("alert rules", "VIGILEOS_ALERT_RULES", settings.alert_rules, alert_rules_path(settings)),
            ("SLA definitions", "VIGILEOS_SLAS", settings.slas, slas_path(settings)),
            ("example parameter files", "", "", bundled_dir("parameters"))]
    if as_json:
        emit_json([{"what": what, "path": str(path), "from": env if value.strip() else "package",
                    "exists": path.exists()}
                   for what, env, value, path in rows])
        return
    for what, env, value, path in rows:
        source = env if value.strip() else "package"
        missing = "" if path.exists() else ("  (missing)", "bold red")
        console.print(styled(f"{what:<24} {path}  ({source})", missing), highlight=False, soft_wrap=True)


@templates.command("copy")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist in TARGET.")
@pass_app
@handle_errors
def copy(app: AppContext, target: Path, force: bool) -> None:
    """Copy the notebooks and parameter files into TARGET/notebooks and TARGET/parameters, to edit.

    Existing files are kept unless --force. Point the workbench at the copies with
    the settings printed at the end (in the environment or a .env file).
    """
    from ..templates import copy_templates

    result = copy_templates(target, overwrite=force)
    console.print(f"Copied {len(result.copied)} files into {result.target}.", highlight=False)
    if result.kept:
        console.print(f"Kept {len(result.kept)} files that already existed (--force overwrites them):",
                      highlight=False)
        for path in result.kept:
            console.print(f"  {path}", highlight=False)
    console.print("To use the copies, add these lines to .env (or export them):", highlight=False)
    for name, value in result.settings().items():
        console.print(f"  {name}={value}", highlight=False, soft_wrap=True)

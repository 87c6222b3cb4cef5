"""The notebooks and parameter files that come with the package, and where the ones in use are.

The repository's top-level ``notebooks/`` and ``parameters/`` folders are their
source. ``pyproject.toml`` maps them into this package, so an installed wheel
carries them as package data::

    vigileos_analytics/templates/notebooks/reports/*.ipynb       report notebooks (papermill)
    vigileos_analytics/templates/notebooks/dashboards/*.ipynb    Voila dashboards
    vigileos_analytics/templates/notebooks/*.ipynb               walkthrough notebooks
    vigileos_analytics/templates/parameters/*.yaml               example report parameters, default alert rules

An editable install of a source checkout has no such copies: the top-level folders
beside the package are read instead, so an edit there takes effect at once.

A setting (``VIGILEOS_REPORTS_DIR``, ``VIGILEOS_DASHBOARDS_DIR``,
``VIGILEOS_ALERT_RULES``) overrides the bundled file; :func:`copy_templates` makes
editable copies for those settings to point at.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

from ..config import Settings, load_settings
from ..errors import ConfigurationError, ValidationError

Kind = Literal["notebooks", "parameters"]
KINDS: tuple[Kind, ...] = ("notebooks", "parameters")


def bundled_dir(kind: Kind) -> Path:
    """The folder of the notebooks or parameter files that came with the package.

    Raises ConfigurationError when the package was installed without them (a broken build).
    """
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.", field="kind", value=kind)
    installed = Path(str(files(__name__))) / kind
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / kind).is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / kind
    raise ConfigurationError(f"The package's {kind} folder is missing (looked in {installed} and {checkout / kind}): "
                             "reinstall vigileos-analytics from its wheel.")


def _configured(value: str) -> Path | None:
    return Path(value).expanduser() if value.strip() else None


def reports_dir(settings: Settings | None = None) -> Path:
    """Folder of the report notebooks: ``VIGILEOS_REPORTS_DIR``, else the bundled ones."""
    settings = settings or load_settings()
    return _configured(settings.reports_dir) or bundled_dir("notebooks") / "reports"


def dashboards_dir(settings: Settings | None = None) -> Path:
    """Folder of the dashboard notebooks: ``VIGILEOS_DASHBOARDS_DIR``, else the bundled ones."""
    settings = settings or load_settings()
    return _configured(settings.dashboards_dir) or bundled_dir("notebooks") / "dashboards"


def alert_rules_path(settings: Settings | None = None) -> Path:
    """The alert rules file: ``VIGILEOS_ALERT_RULES``, else the bundled default rules."""
    settings = settings or load_settings()
    return _configured(settings.alert_rules) or bundled_dir("parameters") / "alert_rules.yaml"


def slas_path(settings: Settings | None = None) -> Path:
    """The SLA definition file: ``VIGILEOS_SLAS``, else the bundled example."""
    settings = settings or load_settings()
    return _configured(settings.slas) or bundled_dir("parameters") / "slas.yaml"


def parameter_file(name: str) -> Path:
    """A bundled example parameter file, e.g. ``parameter_file("monthly_availability_fr")``."""
    path = bundled_dir("parameters") / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in bundled_dir("parameters").glob("*.yaml"))
        raise ValidationError(f"No bundled parameter file {name!r}; known: {', '.join(known)}.", field="name",
                              value=name)
    return path


def _shipped_files(kind: Kind) -> list[Path]:
    root = bundled_dir(kind)
    pattern = "*.ipynb" if kind == "notebooks" else "*.yaml"
    return sorted(p.relative_to(root) for p in root.rglob(pattern) if ".ipynb_checkpoints" not in p.parts)


@dataclass(frozen=True)
class CopiedTemplates:
    """What :func:`copy_templates` wrote (``copied``) and left alone because it existed (``kept``)."""

    target: Path
    copied: tuple[Path, ...]
    kept: tuple[Path, ...]

    def settings(self) -> dict[str, str]:
        """The settings that point the workbench at the copies (lines for a ``.env`` file)."""
        root = self.target.resolve()
        return {"VIGILEOS_REPORTS_DIR": str(root / "notebooks" / "reports"),
                "VIGILEOS_DASHBOARDS_DIR": str(root / "notebooks" / "dashboards"),
                "VIGILEOS_ALERT_RULES": str(root / "parameters" / "alert_rules.yaml"),
                "VIGILEOS_SLAS": str(root / "parameters" / "slas.yaml")}


def copy_templates(target: str | Path, overwrite: bool = False) -> CopiedTemplates:
    """Copy the bundled notebooks and parameter files into ``target/notebooks`` and
    ``target/parameters``, for editing. Existing files are kept unless ``overwrite``."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ValidationError(f"The templates go into a folder; {target} is a file. Name a folder (it is created "
                              "if missing).", field="target", value=str(target))
    copied: list[Path] = []
    kept: list[Path] = []
    for kind in KINDS:
        for relative in _shipped_files(kind):
            destination = target / kind / relative
            if destination.exists() and not overwrite:
                kept.append(destination)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundled_dir(kind) / relative, destination)
            copied.append(destination)
    return CopiedTemplates(target=target, copied=tuple(copied), kept=tuple(kept))


__all__ = ["CopiedTemplates", "alert_rules_path", "bundled_dir", "copy_templates", "dashboards_dir",
           "parameter_file", "reports_dir", "slas_path"]

"""How the package imports: names on first use, modules under their former names, and
one third-party import kept out of the way.

- :func:`lazy_exports`: package exports imported on first use (PEP 562), so that importing
  a package, or the command line, does not pay for pandas, scikit-learn or papermill until
  a name is used.
- :func:`install_moved_modules`: ``import vigileos_analytics.alerts`` (the flat layout of
  0.1) still works and gives the module at its new place, with a ``DeprecationWarning``
  naming it.
- :func:`skip_slow_iri_checker`: jsonschema imports ``rfc3987_syntax`` when it is
  installed, which builds a Lark grammar at import (2 to 4 s on these machines) only to
  check the rarely used "iri" format. plotly reaches jsonschema (through nbformat) at its
  first figure and papermill at its first notebook, so every report and every dashboard
  kernel would pay it. jsonschema treats the missing module as an optional checker it
  goes without.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

#: Modules of the flat 0.1 layout, relative to the package, and where they live now.
MOVED_MODULES = {
    "alert_rules": "analytics.alert_rules",
    "alerts": "analytics.alerts",
    "anomaly": "analytics.anomaly",
    "availability": "analytics.availability",
    "trends": "analytics.trends",
    "collect": "ingest.collect",
    "importing": "ingest.importing",
    "recording": "ingest.recording",
    "simulate": "ingest.simulate",
    "simulation_io": "ingest.simulation_io",
    "connectivity": "check.connectivity",
    "diagnosis": "check.diagnosis",
    "store_facts": "check.facts",
    "intervals": "stores.intervals",
    "rollups": "stores.rollups",
}


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``exports`` maps each name to the
    submodule (relative, e.g. ``".runner"``) it is imported from on first use."""

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(submodule, package), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


class _MovedModuleFinder:
    """Finds ``<package>.<old name>`` and loads it as the module at its new place: a meta
    path finder and loader by their methods (importlib.abc costs 10 ms of start-up)."""

    def __init__(self, package: str, moved: Mapping[str, str]):
        self._targets = {f"{package}.{old}": f"{package}.{new}" for old, new in moved.items()}
        self._own_specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None):
        if fullname not in self._targets:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]  # a Loader by its methods

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new_name = self._targets[spec.name]
        warnings.warn(f"{spec.name} is now {new_name}; the old name will be removed in a later version",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new_name)
        self._own_specs[new_name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its new name. The import system has
        just set its ``__spec__`` to the old name's; put its own back, or its relative imports
        would resolve against the old name's package."""
        module.__spec__ = self._own_specs[module.__name__]


def install_moved_modules(package: str, moved: Mapping[str, str] = MOVED_MODULES) -> None:
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder(package, moved))


def skip_slow_iri_checker() -> None:
    """Make jsonschema go without the "iri" format checker, if it is not imported yet."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

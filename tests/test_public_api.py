"""The public namespace: ``__all__`` is exactly what the package promises, every name in
it resolves, and nothing public defined in a module is left out of its ``__all__``."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import vigileos_analytics

#: The package's top-level API, as users import it (``from vigileos_analytics import ...``).
TOP_LEVEL = [
    "__version__",
    "AvailabilityResult",
    "ConfigurationError",
    "EquipmentAnalyticsService",
    "EquipmentMetricsService",
    "FleetSpec",
    "MetricsStore",
    "Point",
    "QueryError",
    "ReportError",
    "Selection",
    "Settings",
    "StoreBusyError",
    "StoreConnectionError",
    "StoreError",
    "ValidationError",
    "VigileosError",
    "WriteError",
    "availability_of",
    "explore",
    "load_settings",
    "open_store",
    "show",
    "simulate_fleet",
]


def _modules_with_all() -> list[str]:
    """Modules that declare ``__all__`` (found in the source, so collecting the tests
    imports nothing heavy)."""
    root = Path(vigileos_analytics.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        if "__all__ = " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_top_level_all_is_exactly_the_promised_api():
    assert vigileos_analytics.__all__ == TOP_LEVEL


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from vigileos_analytics import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(TOP_LEVEL)


@pytest.mark.parametrize("name", _modules_with_all())
def test_all_resolves_and_covers_what_the_module_defines(name):
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for attr in exported:
        assert getattr(module, attr) is not None, attr
    defined_here = {attr for attr, obj in vars(module).items()
                    if not attr.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
                    and obj.__module__ == name}
    assert defined_here <= set(exported), f"public but not in __all__: {sorted(defined_here - set(exported))}"

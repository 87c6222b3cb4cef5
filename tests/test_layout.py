"""The package's layout: where modules live, which way imports run, and the 0.1 module
names that still import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from vigileos_analytics._imports import MOVED_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "vigileos_analytics"

#: Modules that stay at the top: what every layer builds on.
FLAT = {"__init__", "__main__", "_imports", "config", "errors", "i18n", "inventory", "schema", "theme", "timeparse",
        "urloptions"}
FOUNDATION = FLAT - {"__init__", "__main__"} | {"templates", "locales"}
#: What each folder may import besides the foundation: cli / dashboards / reports over the
#: services, the services over the stores, the stores over nothing of ours.
ALLOWED = {
    "stores": set(),
    "ingest": {"stores"},
    "check": {"stores"},
    "analytics": {"stores"},
    "predictive": {"stores"},
    "lifecycle": {"stores", "analytics"},
    "plots": {"stores", "analytics"},
    "reports": {"stores", "analytics", "plots"},
    "dashboards": {"stores", "analytics", "plots"},
    "api": {"stores", "ingest", "check", "analytics"},
    "cli": {"stores", "ingest", "check", "analytics", "predictive", "lifecycle", "reports", "dashboards", "api"},
}


def _imported_layers(path: Path) -> set[str]:
    """The top-level parts of the package that ``path`` imports (at module level or inside
    functions)."""
    parts = ["vigileos_analytics", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    else:
        parts = parts[:-1]  # a module's relative imports start from its package
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vigileos_analytics."):
            target = node.module.split(".")
        elif isinstance(node, ast.Import):
            target = next((a.name.split(".") for a in node.names if a.name.startswith("vigileos_analytics.")), [])
        else:
            continue
        if len(target) > 1:
            found.add(target[1])
    return found


def test_only_the_foundation_stays_at_the_top_level():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == FLAT


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_imports_run_one_way(folder):
    wrong = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        outside = _imported_layers(path) - {folder} - FOUNDATION - ALLOWED[folder]
        if outside:
            wrong[str(path.relative_to(PACKAGE))] = sorted(outside)
    assert wrong == {}, f"{folder}/ may use only the foundation and {sorted(ALLOWED[folder])}"


def test_the_foundation_imports_no_layer():
    for name in FLAT - {"__init__", "__main__"}:
        assert _imported_layers(PACKAGE / f"{name}.py") <= FOUNDATION, name


def test_every_folder_is_a_listed_package():
    """The wheel lists its packages; a folder missing from the list would not ship."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    for folder in sorted(ALLOWED):
        assert f'"vigileos_analytics.{folder}"' in text, folder


@pytest.mark.parametrize("old, new", sorted(MOVED_MODULES.items()))
def test_a_module_imported_by_its_former_name_is_the_moved_module(old, new):
    with pytest.warns(DeprecationWarning, match=f"vigileos_analytics.{old} is now vigileos_analytics.{new}"):
        sys.modules.pop(f"vigileos_analytics.{old}", None)
        module = importlib.import_module(f"vigileos_analytics.{old}")
    assert module is importlib.import_module(f"vigileos_analytics.{new}")
    # The module keeps its own identity, so its relative imports still resolve.
    assert module.__spec__.name == module.__name__ == f"vigileos_analytics.{new}"
    assert module.__spec__.parent == module.__package__


def test_code_written_against_the_flat_layout_runs_in_a_fresh_interpreter(tmp_path):
    """What a user's script of 0.1 did: import from the old module names, before anything
    else of the package is loaded."""
    script = (
        "from vigileos_analytics.analytics import EquipmentAnalyticsService, AvailabilityResult\n"
        "from vigileos_analytics.recording import EquipmentMetricsService\n"
        "from vigileos_analytics.simulate import FleetSpec, simulate_fleet\n"
        "from vigileos_analytics.alerts import check_alerts\n"
        "from vigileos_analytics.alert_rules import load_rules\n"
        "from vigileos_analytics.importing import read_metrics_csv\n"
        "from vigileos_analytics.store_facts import gather_facts\n"
        "from vigileos_analytics.rollups import find_rollups\n"
        "import vigileos_analytics.availability as av\n"
        "from vigileos_analytics.stores import open_store\n"
        "store = open_store('duckdb:///' + r'%s')\n"
        "EquipmentMetricsService(store).record_availability('EQ-1', True)\n"
        "print(type(EquipmentAnalyticsService(store)).__module__, av.__name__)\n" % (tmp_path / "m.duckdb")
    )
    done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["vigileos_analytics.analytics.service", "vigileos_analytics.analytics.availability"]


#: What code outside stores/ must not do with a store: branch on its backend name, sniff
#: its attributes, test its class, or reach into its private attributes. What a caller
#: needs to know is a member of the store protocol (stores/base.py).
STORE_LEAKS = (
    r"\bbackend\s*(?:==|!=)"
    r"|(?<!for )\bbackend\s+(?:not\s+)?in\b"
    r"|\b(?:getattr|hasattr)\(\s*(?:[\w.]*\.)?_?(?:store|raw|rollup|reader)\b"
    r"|\bisinstance\([^)]*\b(?:EmbeddedStore|InfluxQLStore|Influx2Store)\b"
    r"|\b_?(?:store|raw|rollup|reader)\._\w"
)


def _code_only(source: str) -> list[str]:
    """The lines of ``source`` with comments and string literals blanked out."""
    import io
    import tokenize

    rows = [list(line) for line in source.splitlines()]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.STRING):
            continue
        (first, start), (last, end) = token.start, token.end
        for number in range(first, last + 1):
            row = rows[number - 1]
            lo, hi = (start if number == first else 0), (end if number == last else len(row))
            row[lo:hi] = " " * (hi - lo)
    return ["".join(row) for row in rows]


def test_no_code_outside_the_stores_asks_which_backend_it_has():
    import re

    leak = re.compile(STORE_LEAKS)
    for bad in ('if store.backend == "duckdb":', "if info.backend != 'influxql':", "if store.backend in KNOWN:",
                'getattr(store, "spool", None)', "hasattr(self.store, 'path')", "store._client.buckets_api()",
                "isinstance(store, EmbeddedStore)", "service.store._local"):
        assert leak.search(bad), bad  # the patterns catch what they are meant to
    for fine in ('console.print(f"{store.backend} store")', "self._store = None", "for backend in names:",
                 '"backend ==" in a string'):
        assert not leak.search(_code_only(fine)[0]), fine
    offending = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
                 for path in sorted(PACKAGE.rglob("*.py")) if "stores" not in path.relative_to(PACKAGE).parts[:1]
                 for number, line in enumerate(_code_only(path.read_text(encoding="utf-8")), start=1)
                 if leak.search(line)]
    assert offending == [], "use a capability of the store protocol instead:\n" + "\n".join(offending)

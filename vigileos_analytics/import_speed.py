"""Import-time tweaks that keep the first report or dashboard page from waiting.

jsonschema imports ``rfc3987_syntax`` when it is installed, which builds a Lark
grammar at import (2 to 4 s on these machines) only to check the rarely used "iri"
format. plotly reaches jsonschema (through nbformat) at its first figure and
papermill at its first notebook, so every report and every dashboard kernel would
pay it. jsonschema treats the missing module as an optional checker it goes without.
"""

from __future__ import annotations

import sys


def skip_slow_iri_checker() -> None:
    """Make jsonschema go without the "iri" format checker, if it is not imported yet."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

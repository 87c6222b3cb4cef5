"""Equipment ids checked against what the inventory and the store know."""

from __future__ import annotations

import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.inventory import require_known_equipment


def test_ten_thousand_known_ids_pass_and_unknown_ones_are_named():
    known = [f"EQ-{i:05d}" for i in range(10_000)]
    require_known_equipment(list(reversed(known)), known)  # linear: a set per id made this 2.8 s at 5,000
    asked = known[:5_000] + ["EQ-X1"] + known[5_000:] + [f"EQ-Y{i}" for i in range(12)]
    with pytest.raises(ValidationError) as caught:
        require_known_equipment(asked, known, field="equipment")
    message = str(caught.value)
    assert message.startswith("unknown equipment 'EQ-X1', 'EQ-Y0'") and "and 3 more" in message
    assert caught.value.field == "equipment" and caught.value.value == "EQ-X1"
    assert "Known: EQ-00000, EQ-00001" in message and message.endswith("EQ-00009 and 9,990 more.")

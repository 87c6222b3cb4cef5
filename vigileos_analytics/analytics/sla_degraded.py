"""An SLA's degraded rule: available time that counts as degraded while a metric's slot
breaches a threshold (e.g. the 5-minute mean response time above 500 ms), either only
shown or spent from the error budget as down time (:mod:`.sla` counts it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["COUNTS_AS", "DEGRADED_FUNCTIONS", "DegradedRule"]

#: How a slot of the degraded rule's metric is judged.
DEGRADED_FUNCTIONS = ("mean", "max")
#: What degraded time does: ``down`` spends the error budget, ``degraded`` is only shown.
COUNTS_AS = ("down", "degraded")


@dataclass(frozen=True)
class DegradedRule:
    """Available time that counts as degraded: while the ``function`` (mean or max) of
    ``metric`` over an ``every``-slot (aligned to the UTC epoch) is ``operator``
    (above / below) ``threshold``, in the metric's unit (ms for response_time). A slot
    without a point is not degraded; a slot is judged once it is complete."""

    metric: str
    threshold: float
    every: timedelta = timedelta(minutes=5)
    operator: str = "above"
    function: str = "mean"
    counts_as: str = "degraded"

    def __post_init__(self) -> None:
        for name, value, allowed in (("operator", self.operator, ("above", "below")),
                                     ("function", self.function, DEGRADED_FUNCTIONS),
                                     ("counts_as", self.counts_as, COUNTS_AS)):
            if value not in allowed:
                raise ValidationError(f"degraded {name}: expected one of {', '.join(allowed)}; got {value!r}.",
                                      field=name, value=value)
        if self.every <= timedelta(0):
            raise ValidationError(f"degraded every: expected a positive duration; got {self.every}.",
                                  field="every", value=self.every)

    @property
    def spends_budget(self) -> bool:
        return self.counts_as == "down"

    def breached(self, values: np.ndarray) -> np.ndarray:
        return values > self.threshold if self.operator == "above" else values < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "function": self.function, "operator": self.operator,
                "threshold": self.threshold, "every_s": self.every.total_seconds(), "counts_as": self.counts_as}

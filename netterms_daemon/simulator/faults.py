"""Faults on demand: failing, throttled or slow API calls; lost or shuffled webhooks."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    """
    What goes wrong, and how often; every rate is a share from 0 to 1.

    `api_throttle_rate` answers a share of the calls the quota let through
    with a 429 that says the quota is spent; `throttled_injected` counts
    those answers, apart from the quota's own `refused`.
    """

    api_error_rate: float = 0.0
    api_throttle_rate: float = 0.0
    api_latency_ms: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0

    def __post_init__(self) -> None:
        # A counter, not a knob: kept out of the fields so the control API
        # cannot set it.
        self.throttled_injected = 0

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply changes from the control API; return problems, one per bad field."""
        known = {f.name for f in fields(self)}
        problems = []
        for name, value in changes.items():
            if name not in known:
                problems.append(
                    f"{name}: unknown fault; known: {', '.join(sorted(known))}"
                )
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name}: expected a number, got {value!r}")
                continue
            if name.endswith("_rate") and not 0 <= value <= 1:
                problems.append(f"{name}: must be between 0 and 1, got {value}")
                continue
            if value < 0:
                problems.append(f"{name}: must not be negative, got {value}")
                continue
        if not problems:
            for name, value in changes.items():
                setattr(self, name, float(value))
        return problems

    def view(self) -> dict[str, float]:
        """The current settings and the injected-429 count, for the control API."""
        return {**asdict(self), "throttled_injected": self.throttled_injected}


class Dice:
    """Seeded randomness, so a test that injects faults can repeat a run."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def happens(self, rate: float) -> bool:
        """True with probability rate."""
        return rate > 0 and self._random.random() < rate

    def uniform(self, low: float, high: float) -> float:
        """A number between low and high."""
        return self._random.uniform(low, high)

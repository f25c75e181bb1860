"""One diagnostic's outcome: its numbers, a sentence that states them, and a risk level."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: risk levels, from no warning to "the method is unlikely to work on these data"
RISKS = ("low", "medium", "high")


@dataclass
class Finding:
    """``name``: the diagnostic (e.g. ``"corpus_size"``); ``numbers``: the evidence, JSON-able;
    ``sentence``: the evidence and its meaning in one sentence; ``risk``: one of :data:`RISKS`
    (``ValueError`` otherwise)."""

    name: str
    numbers: dict = field(default_factory=dict)
    sentence: str = ""
    risk: str = "low"

    def __post_init__(self):
        if self.risk not in RISKS:
            raise ValueError(f"risk must be one of {RISKS}, got {self.risk!r}")

    def to_dict(self) -> dict:
        return asdict(self)

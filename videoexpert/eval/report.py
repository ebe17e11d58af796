"""What was wrong with a prediction file, item by item, and what the evaluation did about it.

Reference scripts either crash on a bad submission (an assert on matching qids, an IndexError on an empty
window list) or silently drop items. Neither tells a researcher why a number moved, so every evaluation
here returns an `ItemReport` next to its metrics: missing, duplicate, unknown and malformed items are
counted and listed, and the policy applied to each is spelled out in `policies` and printed with the table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LISTED = 10  # ids shown per category in the printed report; the JSON keeps every id


@dataclass
class ItemReport:
    """Per-item problems found while matching predictions to annotations."""

    benchmark: str
    num_expected: int = 0                      # items in the annotation file
    num_scored: int = 0                        # items that had a usable prediction
    missing: list[str] = field(default_factory=list)        # expected ids without a prediction
    duplicates: list[str] = field(default_factory=list)     # ids seen on more than one line (last line kept)
    unknown: list[str] = field(default_factory=list)        # predicted ids absent from the annotations
    malformed: list[str] = field(default_factory=list)      # "line N: reason" for unreadable lines
    empty: list[str] = field(default_factory=list)          # ids whose prediction holds no usable answer
    out_of_range: list[str] = field(default_factory=list)   # ids with a window outside [0, duration] or reversed
    policies: dict[str, str] = field(default_factory=dict)  # problem -> what the metric does with it

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.unknown or self.malformed or self.empty)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = {k: len(getattr(self, k)) for k in
                         ("missing", "duplicates", "unknown", "malformed", "empty", "out_of_range")}
        return out

    def format(self, max_listed: int = MAX_LISTED) -> str:
        """A short human-readable summary: counts, the first few ids, then the policies."""
        lines = [f"{self.benchmark}: {self.num_scored}/{self.num_expected} items have a usable prediction"]
        for name in ("missing", "duplicates", "unknown", "malformed", "empty", "out_of_range"):
            items = getattr(self, name)
            if not items:
                continue
            shown = ", ".join(items[:max_listed]) + (f", ... (+{len(items) - max_listed})"
                                                     if len(items) > max_listed else "")
            lines.append(f"  {name.replace('_', '-')}: {len(items)}  [{shown}]")
        for problem, policy in self.policies.items():
            lines.append(f"  policy [{problem}]: {policy}")
        return "\n".join(lines)


__all__ = ["ItemReport"]

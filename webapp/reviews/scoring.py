"""A review's score: each criterion's value as a share of its scale, weighted; criteria marked
not applicable count for nothing either way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from webapp.models import Criterion


def share(criterion: Criterion, value: int) -> float:
    """Where a value lies on the criterion's scale: 0.0 at its lowest, 1.0 at its highest."""
    return (value - criterion.scale_min) / (criterion.scale_max - criterion.scale_min)


def weighted(criteria: Iterable[Criterion], values: Mapping[int, int | None]) -> float | None:
    """The score in per cent (0–100) of these values, by criterion id; None when every
    criterion is not applicable (or none has a value)."""
    total = weight = 0.0
    for criterion in criteria:
        value = values.get(criterion.id)
        if value is None:
            continue
        total += criterion.weight * share(criterion, value)
        weight += criterion.weight
    return None if weight == 0 else round(100 * total / weight, 1)

"""Dated phases in Paris days, shared by consultations and budget cycles: a phase runs from
Paris midnight of its first day to Paris midnight after its last (summer time included); the
phases come once each in their order, each starting the day after the previous one ends, so
at most one is current and there is never a gap (the tables' exclusion constraints hold it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.errors import FieldError, ValidationFailed
from geo.aggregations import paris_midnight


@dataclass
class PhaseDays:
    """A phase from its first to its last day, both included, in Paris's calendar."""

    phase: str
    starts_on: date
    ends_on: date


def periods(days: list[PhaseDays], order: tuple[str, ...], first: str | None = None
            ) -> list[tuple[str, datetime, datetime]]:
    """The phases as instants, or one 422 listing every problem (`first`: the phase that must
    open the list, if any)."""
    errors: list[FieldError] = []
    names = [d.phase for d in days]
    if first is not None and (not days or names[0] != first):
        errors.append(FieldError("phases[0].phase", f"{first}_first"))
    if len(set(names)) != len(names) or names != sorted(names, key=order.index):
        errors.append(FieldError("phases", "phases_out_of_order", {"order": ", ".join(order)}))
    for i, d in enumerate(days):
        if d.ends_on < d.starts_on:
            errors.append(FieldError(f"phases[{i}].ends_on", "empty_period", {"min": d.starts_on.isoformat()}))
        if i and d.starts_on != days[i - 1].ends_on + timedelta(days=1):
            errors.append(FieldError(f"phases[{i}].starts_on", "phase_not_contiguous",
                                     {"day": (days[i - 1].ends_on + timedelta(days=1)).isoformat()}))
    if errors:
        raise ValidationFailed(errors)
    return [(d.phase, paris_midnight(d.starts_on), paris_midnight(d.ends_on + timedelta(days=1)))
            for d in days]

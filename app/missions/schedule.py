"""A mission's slots from its schedule, and a sign-up's iCalendar file. Pure: no database,
no Flask.

Three schedules, as Je m'engage pour Paris and API Engagement describe missions:
* one_off: one or a few dated slots (each its own start, end and capacity);
* recurring: the same hours on some weekdays between two dates (Paris local time, so that
  "Saturdays 10:00–12:00" stays 10:00 across the change to summer time), at most MAX_SLOTS;
* open_period: one slot from a start to an optional end ("every week, when you can").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
MAX_SLOTS = 200          # a recurrence's slots, and one-off slots (a few in practice)
MAX_ONE_OFF = 50
MAX_DAYS = 400           # a recurrence spans at most this many days


class ScheduleError(ValueError):
    """`field` (a dotted path under the mission's body), `code`, message params."""

    def __init__(self, field: str, code: str, **params) -> None:
        super().__init__(code)
        self.field, self.code, self.params = field, code, params


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime | None
    capacity: int


def one_off(slots: list[dict]) -> list[Slot]:
    """Each {starts_at, ends_at, capacity}: aware datetimes, end after start."""
    if not slots:
        raise ScheduleError("slots", "slots_required")
    if len(slots) > MAX_ONE_OFF:
        raise ScheduleError("slots", "too_many_slots", max=MAX_ONE_OFF)
    found = []
    for i, s in enumerate(slots):
        if s["ends_at"] is None or s["ends_at"] <= s["starts_at"]:
            raise ScheduleError(f"slots.{i}.ends_at", "ends_before_start")
        found.append(Slot(s["starts_at"], s["ends_at"], s["capacity"]))
    return sorted(found, key=lambda s: s.starts_at)


def recurring(rule: dict) -> list[Slot]:
    """{weekdays: [0 = Monday … 6], start_time, end_time, from_date, until_date, capacity} →
    one slot per matching day, in Paris time."""
    days, start, end = sorted(set(rule["weekdays"])), rule["start_time"], rule["end_time"]
    first, last = rule["from_date"], rule["until_date"]
    if not days:
        raise ScheduleError("recurrence.weekdays", "weekdays_required")
    if end <= start:
        raise ScheduleError("recurrence.end_time", "ends_before_start")
    if last < first:
        raise ScheduleError("recurrence.until_date", "ends_before_start")
    if (last - first).days > MAX_DAYS:
        raise ScheduleError("recurrence.until_date", "recurrence_too_long", max=MAX_DAYS)
    found = []
    day = first
    while day <= last:
        if day.weekday() in days:
            found.append(Slot(paris(day, start), paris(day, end), rule["capacity"]))
        day += timedelta(days=1)
    if not found:
        raise ScheduleError("recurrence.weekdays", "recurrence_empty")
    if len(found) > MAX_SLOTS:
        raise ScheduleError("recurrence", "too_many_slots", max=MAX_SLOTS)
    return found


def open_period(period: dict) -> list[Slot]:
    """{starts_at, ends_at (None: no end), capacity} → one slot."""
    if period["ends_at"] is not None and period["ends_at"] <= period["starts_at"]:
        raise ScheduleError("period.ends_at", "ends_before_start")
    return [Slot(period["starts_at"], period["ends_at"], period["capacity"])]


def paris(day: date, at: time) -> datetime:
    """A Paris wall-clock time as an aware UTC datetime (the later of an ambiguous hour)."""
    return datetime.combine(day, at, tzinfo=PARIS).astimezone(UTC)


def slot_is_open(starts_at: datetime, ends_at: datetime | None, now: datetime, *, period: bool) -> bool:
    """Whether a volunteer may still sign up: a dated slot until it starts, an open period
    until it ends (never, without an end)."""
    if period:
        return ends_at is None or now < ends_at
    return now < starts_at


def reminder_at(starts_at: datetime, now: datetime) -> datetime | None:
    """When the reminder e-mail goes: the day before the slot, or at once if that is past
    (None once the slot has started)."""
    if starts_at <= now:
        return None
    return max(now, starts_at - timedelta(days=1))


def ical(*, uid: str, title: str, description: str, url: str, location: str,
         starts_at: datetime, ends_at: datetime | None, organiser: str, stamp: datetime,
         cancelled: bool = False) -> bytes:
    """One VEVENT (RFC 5545) by the icalendar library; an open period with no end is a
    one-day event on its first day."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//Cartagora//Missions//FR")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", title)
    event.add("description", description)
    event.add("url", url)
    if location:
        event.add("location", location)
    if ends_at is None:
        event.add("dtstart", starts_at.astimezone(PARIS).date())
    else:
        event.add("dtstart", starts_at)
        event.add("dtend", ends_at)
    event.add("organizer", organiser)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()

"""The report workflow, defined once: statuses, allowed transitions, required fields.

Modelled on DansMaRue (see shared/reference/dansmarue.md) and FixMyStreet's open/closed/fixed
grouping. Only app/field/services.py applies it.
"""

from app.contributions.models import REPORT_CLOSED, REPORT_OPEN

# from -> allowed targets
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "scheduled", "monitoring", "transferred", "resolved", "rejected", "duplicate"),
    "acknowledged": ("scheduled", "monitoring", "transferred", "resolved", "rejected", "duplicate"),
    "scheduled": ("scheduled", "monitoring", "transferred", "resolved", "rejected", "duplicate"),
    "monitoring": ("acknowledged", "scheduled", "transferred", "resolved", "rejected"),
    "transferred": ("acknowledged", "scheduled", "resolved", "rejected"),
    # reopening: an agent, or the reporter/followers saying "still there" within 30 days
    "resolved": ("acknowledged",),
    "rejected": ("acknowledged",),
    "duplicate": (),
}

# reasons residents see when a report is rejected (DansMaRue's rejection messages)
REJECTION_REASONS = ("location_unclear", "photo_needed", "not_city_remit", "made_safe", "other")
# closing messages of a resolution
RESOLUTIONS = ("fixed", "not_fixed", "forwarded")
PRIORITIES = ("dangerous", "annoying", "minor")
REOPEN_WINDOW_DAYS = 30

OPEN, CLOSED = REPORT_OPEN, REPORT_CLOSED

LABELS = {
    "new": ("Nouveau", "New"),
    "acknowledged": ("Pris en compte", "Acknowledged"),
    "scheduled": ("Intervention programmée", "Scheduled"),
    "resolved": ("Résolu", "Resolved"),
    "rejected": ("Rejeté", "Rejected"),
    "duplicate": ("Doublon", "Duplicate"),
    "transferred": ("Transféré à un tiers", "Transferred"),
    "monitoring": ("Sous surveillance", "Under watch"),
}
REASON_LABELS = {
    "location_unclear": ("Emplacement à préciser", "Location unclear"),
    "photo_needed": ("Photo nécessaire", "Photo needed"),
    "not_city_remit": ("Hors compétence de la Ville", "Not the city's remit"),
    "made_safe": ("Mis en sécurité, sous surveillance", "Made safe and under watch"),
    "other": ("Autre", "Other"),
}
RESOLUTION_LABELS = {
    "fixed": ("Le problème a été résolu.", "The problem was fixed."),
    "not_fixed": (
        "Le problème n'a pas été résolu et aucune intervention n'est prévue prochainement.",
        "The problem was not fixed and no work is planned soon.",
    ),
    "forwarded": (
        "Le problème ne relève pas de la Ville et a été transmis à l'organisme compétent.",
        "The problem is outside the city's remit and was forwarded to the competent body.",
    ),
}


def allowed_targets(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())

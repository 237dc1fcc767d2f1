"""The report workflow, defined once: statuses, allowed transitions, required fields.

Modelled on DansMaRue (see shared/reference/dansmarue.md) and FixMyStreet's open/closed/fixed
grouping. Only app/field/services.py applies it.
"""

from flask_babel import force_locale
from flask_babel import lazy_pgettext as _lp

from app import labels
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
# what residents may say about a fix: `still_there` reopens the report
FEEDBACK_VALUES = ("fixed", "still_there")

# the member a target cannot do without (app/field/services.py, validate(); the API's
# document states it as if/then rules)
REQUIRED_FOR = {
    "scheduled": "planned_for",
    "rejected": "reason",
    "resolved": "resolution",
    "transferred": "transferred_to",
    "duplicate": "duplicate_of",
}
# longest public or internal note, and longest "transferred to" (characters)
NOTE_MAX = 2000
TRANSFER_MAX = 2000
# the agents' batch: how many reports at once, and the only targets it takes
BATCH_MAX = 500
BATCH_TARGETS = ("acknowledged", "scheduled")

OPEN, CLOSED = REPORT_OPEN, REPORT_CLOSED

# English msgids; French in translations/fr (one gettext catalogue, app/messages.py)
# the kinds' and statuses' names are the pages' (app.labels): one wording everywhere
KIND_LABELS = labels.KIND_LABELS
LABELS = labels.STATUS_LABELS["report"]  # a report's status
PROPOSAL_LABELS = labels.STATUS_LABELS["proposal"]  # a proposal's (app.consultations.answers)
REASON_LABELS = {  # why a report was rejected
    "location_unclear": _lp("rejection reason", "Location unclear"),
    "photo_needed": _lp("rejection reason", "Photo needed"),
    "not_city_remit": _lp("rejection reason", "Not the city's remit"),
    "made_safe": _lp("rejection reason", "Made safe and under watch"),
    "other": _lp("rejection reason", "Other"),
}
RESOLUTION_LABELS = {  # how a resolution closed
    "fixed": _lp("resolution", "The problem was fixed."),
    "not_fixed": _lp("resolution", "The problem was not fixed and no work is planned soon."),
    "forwarded": _lp("resolution", "The problem is outside the city's remit and was forwarded to the competent body."),
}


def label(table: dict, code: str, lang: str) -> str:
    """`table[code]` in `lang` (`code` itself when unknown)."""
    with force_locale(lang):
        return str(table[code]) if code in table else code


def both_languages(table: dict, code: str) -> tuple[str, str]:
    """(French, English): e-mails and feeds speak both, their reader's language unknown."""
    return label(table, code, "fr"), label(table, code, "en")


def allowed_targets(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())

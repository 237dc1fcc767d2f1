"""The names people read for the domain's codes (a contribution's kind, its status, an
arrondissement's ordinal) in the page's language, from the gettext catalogue: the pages
(app.web.i18n), the documents the domains write (the planner's report, its CSV) and the
workflow's e-mails and feeds (app.field.workflow, in a language of their choosing) share them,
so a status reads the same everywhere."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from app.messages import DEFAULT_LANGUAGE, LANGUAGES


def current_lang() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


KIND_LABELS = {"report": _l("Report"), "proposal": _l("Proposal")}
KIND_PLURALS = {"report": _l("Reports"), "proposal": _l("Proposals")}

STATUS_LABELS = {
    "report": {
        "new": _l("New"),
        "acknowledged": _l("Acknowledged"),
        "scheduled": _l("Scheduled"),
        "resolved": _l("Resolved"),
        "rejected": _l("Rejected"),
        "duplicate": _l("Duplicate"),
        "transferred": _l("Transferred"),
        "monitoring": _l("Under watch"),
    },
    # a context of their own: in French a proposal is feminine, a report masculine; a
    # proposal the city turns down is "non retenue", as on idee.paris and the budget
    "proposal": {
        "published": _lp("proposal status", "Published"),
        "under_review": _lp("proposal status", "Under review"),
        "accepted": _lp("proposal status", "Accepted"),
        "realised": _lp("proposal status", "Realised"),
        "rejected": _lp("proposal status", "Not retained"),
    },
}
STATUS_GROUP_LABELS = {"open": _l("Open (not fixed yet)"), "closed": _l("Closed")}


def status_label(kind: str, status: str) -> str:
    return str(STATUS_LABELS.get(kind, {}).get(status, status))


def ordinal(n: int) -> str:
    """1er, 2e… in French; 1st, 2nd… in English (arrondissements are named by their number)."""
    if current_lang() == "fr":
        return "1er" if n == 1 else f"{n}e"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"

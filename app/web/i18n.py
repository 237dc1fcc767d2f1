"""Languages: French by default, English by choice (kept in the session), `?lang=` for one page.

Every string the pages' scripts show is defined here, translated on the server and handed to
the scripts as JSON (`js_strings`), so no user-facing text is hard-coded in JavaScript.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel, format_date, format_time, get_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from app.messages import DEFAULT_LANGUAGE as DEFAULT
from app.messages import LANGUAGES, current_language

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}  # each in its own language


def select_locale() -> str:
    return current_language()  # the one resolver (app/messages.py)


def current_lang() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


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
    # a context of their own: in French a proposal is feminine, a report masculine
    "proposal": {
        "published": _lp("proposal", "Published"),
        "under_review": _lp("proposal", "Under review"),
        "accepted": _lp("proposal", "Accepted"),
        "realised": _lp("proposal", "Realised"),
        "rejected": _lp("proposal", "Rejected"),
    },
}
STATUS_GROUP_LABELS = {"open": _l("Open (not fixed yet)"), "closed": _l("Closed")}


def status_label(kind: str, status: str) -> str:
    return str(STATUS_LABELS.get(kind, {}).get(status, status))


REASON_LABELS = {"spam": _l("Spam or advertising"), "offensive": _l("Offensive or hateful"),
                 "personal_data": _l("Personal data shown"), "off_topic": _l("Off-topic"),
                 "other": _l("Other")}
SUBJECT_LABELS = {"contribution": _l("Contribution"), "report": _l("Report"), "proposal": _l("Proposal"),
                  "comment": _l("Comment"), "user": _l("Profile"), "domain": _l("E-mail domain"),
                  "category": _l("Category"), "service": _l("Service"), "api_key": _l("API key"),
                  "petition": _l("Petition"), "petition_settings": _l("Petition settings")}
# the audit log's actions (app.moderation.services.audit)
ACTION_LABELS = {"auto_hide": _l("hidden by flags"), "hide": _l("hidden"), "restore": _l("restored"),
                 "dismiss": _l("flags dismissed"), "edit": _l("edited"), "ban": _l("banned"),
                 "unban": _l("ban lifted"), "ban_domain": _l("domain banned"),
                 "unban_domain": _l("domain ban lifted"), "category.create": _l("category added"),
                 "category.update": _l("category changed"), "service.create": _l("service added"),
                 "service.update": _l("service renamed"), "user.roles": _l("roles changed"),
                 "agent.scopes": _l("agent's scope changed"), "api_key.create": _l("API key issued"),
                 "api_key.revoke": _l("API key revoked"), "photo.redact": _l("photo blurred"),
                 "petition_settings.update": _l("petition thresholds changed")}
ROLE_LABELS = {"resident": _l("resident"), "agent": _l("field agent"), "supervisor": _l("supervisor"),
               "planner": _l("planner"), "moderator": _l("moderator"), "admin": _l("admin")}


def reason_label(reason: str) -> str:
    return str(REASON_LABELS.get(reason, reason))


def subject_label(kind: str) -> str:
    return str(SUBJECT_LABELS.get(kind, kind))


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def ordinal(n: int) -> str:
    """1er, 2e… in French; 1st, 2nd… in English (arrondissements are named by their number)."""
    if current_lang() == "fr":
        return "1er" if n == 1 else f"{n}e"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def js_strings() -> dict[str, str]:
    """The scripts' strings in the page's language; `{name}` marks a value filled in by JS."""
    strings = {
        "kind.report": _l("Report"),
        "kind.proposal": _l("Proposal"),
        "map.label": _l("Map of reports and proposals"),
        "map.attribution_paris": _l("Ville de Paris – opendata.paris.fr (ODbL)"),
        "map.attribution_ban": _l("Base Adresse Nationale (Licence Ouverte 2.0)"),
        "map.cluster_one": _l("{n} contribution here, zoom in"),
        "map.cluster_other": _l("{n} contributions here, zoom in"),
        "map.cluster_same_spot_one": _l("{n} contribution at this spot: see it in the list"),
        "map.cluster_same_spot_other": _l("{n} contributions at this spot: see them in the list"),
        "map.create_here": _l("Contribute here"),
        "map.create_report": _l("Report a problem here"),
        "map.create_proposal": _l("Make a proposal here"),
        "map.details": _l("See details"),
        "map.pin": _l("Location of your contribution (arrow keys move it)"),
        "map.vertex": _l("Point {n} of the drawing"),
        "map.loading_error": _l("The map data could not be loaded. Try again in a moment."),
        "map.you_are_here": _l("You are here"),
        "map.zoom_in": _l("Zoom in"),
        "map.zoom_out": _l("Zoom out"),
        "map.close_popup": _l("Close"),
        "list.count_zero": _l("No contribution in this area with these filters."),
        "list.count_one": _l("{n} contribution in this area"),
        "list.count_other": _l("{n} contributions in this area"),
        "list.show_on_map": _l("Show on the map"),
        "list.more": _l("Show more"),
        "list.loading": _l("Loading…"),
        "list.supports_one": _l("{n} support"),
        "list.supports_other": _l("{n} supports"),
        "list.comments_one": _l("{n} comment"),
        "list.comments_other": _l("{n} comments"),
        "list.photos_one": _l("{n} photo"),
        "list.photos_other": _l("{n} photos"),
        "list.votes": _l("{up} agree, {down} disagree"),
        "list.shown": _l("{shown} shown of {total}"),
        "list.same_spot": _l("Showing the contributions at the chosen spot."),
        "search.no_result": _l("No address found."),
        "search.results_one": _l("{n} address found; use the up and down arrows to choose."),
        "search.results_other": _l("{n} addresses found; use the up and down arrows to choose."),
        "search.jumped": _l("Map centred on {label}."),
        "geo.unavailable": _l("Your position is not available."),
        "geo.outside": _l("Your position is outside Paris."),
        "geo.locating": _l("Finding your position…"),
        "form.nearest_address": _l("Nearest address: {label}"),
        "form.no_address": _l("No address within 100 m."),
        "form.pin_placed": _l("Pin placed. Drag it, or use the arrow keys, to adjust."),
        "form.place_pin_first": _l("Tap the map, search an address or use your location to place the pin."),
        "form.draw_line": _l("Tap the map to add the points of the line (at least 2)."),
        "form.draw_polygon": _l("Tap the map to add the corners of the area (at least 3)."),
        "form.points_one": _l("{n} point placed."),
        "form.points_other": _l("{n} points placed."),
        "form.choose_subcategory": _l("— Any / not sure —"),
        "form.choose_category": _l("— Choose a category —"),
        "form.too_many_photos": _l("At most {max} photos: the extra ones were left out."),
        "form.remove_photo": _l("Remove photo {name}"),
        "form.sending": _l("Publishing…"),
        "form.errors": _l("Please correct the fields marked below."),
        "form.created_report": _l("Thank you, your report is published."),
        "form.created_proposal": _l("Thank you, your proposal is published."),
        "form.view": _l("View it"),
        "consultation.votes": _l("{up} for, {down} against"),
        "form.duplicates_one": _l("{n} similar report nearby. Is it yours? Say “me too” instead."),
        "form.duplicates_other": _l("{n} similar reports nearby. Is one of them yours? Say “me too” instead."),
        "form.distance": _l("{m} m away"),
        "form.me_too": _l("Me too"),
        "form.me_too_done": _l("Thank you, your “me too” was added to this report."),
        "form.categories_error": _l("The categories could not be loaded."),
        "form.sign_in_needed": _l("Your session has expired: sign in again to publish."),
        "vote.me_too": _l("Me too"),
        "vote.agree": _l("Agree"),
        "vote.disagree": _l("Disagree"),
        "vote.same_problem_one": _l("{n} person has the same problem."),
        "vote.same_problem_other": _l("{n} people have the same problem."),
        "vote.summary": _l("{up} agree, {down} disagree."),
        "vote.saved": _l("Your vote is saved."),
        "vote.removed": _l("Your vote is withdrawn."),
        "comment.posted": _l("Your comment is published."),
        "follow.on": _l("You follow this contribution."),
        "follow.off": _l("You no longer follow this contribution."),
        "share.copied": _l("Link copied."),
        "share.copy_failed": _l("Copy the link by hand from the field above."),
        "error.generic": _l("Something went wrong; nothing was saved. Try again."),
        "error.network": _l("The server cannot be reached. Check your connection."),
    }
    for kind, statuses in STATUS_LABELS.items():
        for code, label in statuses.items():
            strings[f"status.{kind}.{code}"] = label
    return {key: str(value) for key, value in strings.items()}


def when(moment) -> str:
    """A date and time to the minute, in the page's language and Paris time."""
    return f"{format_date(moment, 'medium')} {format_time(moment, 'short')}"


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["when"] = when
    app.jinja_env.globals.update(
        current_lang=current_lang,
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        KIND_LABELS=KIND_LABELS,
        status_label=status_label,
        reason_label=reason_label,
        subject_label=subject_label,
        action_label=action_label,
        role_label=role_label,
        ordinal=ordinal,
        js_strings=js_strings,
    )

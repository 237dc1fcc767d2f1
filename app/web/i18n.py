"""Languages: French by default, English by choice (kept in the session), `?lang=` for one page.

Every string the pages' scripts show is defined here, translated on the server and handed to
the scripts as JSON (`js_strings`), so no user-facing text is hard-coded in JavaScript.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel, format_date, format_time
from flask_babel import lazy_gettext as _l

from app.labels import (  # noqa: F401 (the pages' names for codes, defined beside the domain)
    KIND_LABELS,
    KIND_PLURALS,
    STATUS_GROUP_LABELS,
    STATUS_LABELS,
    current_lang,
    ordinal,
    status_label,
)
from app.messages import LANGUAGES, current_language  # noqa: F401 (LANGUAGES: for the pages)

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}  # each in its own language


def select_locale() -> str:
    return current_language()  # the one resolver (app/messages.py)


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
        "map.offline": _l("You are offline: the map's contributions come back with the network. "
                          "You can still prepare a report."),
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
        # the resident map (issue 17): the contribution just published, marked in the list
        "list.just_published": _l("Just published"),
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
        # installable and offline (static/js/offline/): what waits on the device to be sent
        "offline.draft_saved": _l("Saved on this device; it will be sent when you are back online."),
        "offline.draft_sent": _l("Sent: “{title}” is published."),
        "offline.transition": _l("Report #{id}: status “{status}”"),
        "offline.transition_saved": _l("No network: the change to “{status}” is saved on this device "
                                       "and will be sent when you are back online."),
        "offline.transition_pending": _l("Pending: the status will change to “{status}” when you are "
                                         "back online."),
        "offline.transition_sent": _l("Sent: report #{id} is now “{status}”."),
        "offline.pending_badge": _l("Change pending"),
        "offline.outbox_one": _l("{n} item waiting on this device"),
        "offline.outbox_other": _l("{n} items waiting on this device"),
        "offline.outbox_sent": _l("Sent from this device"),
        "offline.photos_one": _l("{n} photo"),
        "offline.photos_other": _l("{n} photos"),
        "offline.waiting": _l("Will be sent when you are back online."),
        "offline.sign_in": _l("Sign in again to send it."),
        "offline.refused": _l("Not sent: {detail}"),
        "offline.send_again": _l("Send again"),
        "offline.delete": _l("Delete"),
        "offline.delete_confirm": _l("Delete it from this device? It has not been sent."),
        "offline.title_label": _l("Title"),
        "offline.description_label": _l("Description"),
        "offline.saved_copy": _l("Offline: saved copy from {time}."),
        "offline.back_online": _l("You are back online."),
        "offline.reload": _l("Reload the page"),
        "offline.now_offline": _l("You are offline. What you send now waits on this device."),
        "offline.close": _l("Close"),
        # form helper: the category picker and the address search's streets
        "picker.most_used": _l("Most used"),
        "picker.most_used_n_one": _l("{n} most used category; use the up and down arrows to choose."),
        "picker.most_used_n_other": _l("{n} most used categories; use the up and down arrows to choose."),
        "picker.results_one": _l("{n} category found"),
        "picker.results_other": _l("{n} categories found"),
        "picker.none": _l("No category matches: try another word, or choose from the lists below."),
        "picker.in": _l("in {parent}"),
        "picker.chosen": _l("Category chosen: {label}."),
        "picker.staff_only": _l("Staff only"),
        "search.type_street": _l("Street"),
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

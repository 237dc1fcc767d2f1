"""Every message the API and the importer say to people, in one gettext catalogue.

The English text is the msgid; the French is in translations/fr/LC_MESSAGES/messages.po (the
pages' catalogue, with contexts: "problem" for API problems and field errors, "geometry" for
geometry failures). `{name}` placeholders are filled from the error's params.
"""

from __future__ import annotations

from flask import has_request_context, request, session
from flask_babel import force_locale
from flask_babel import lazy_pgettext as _lp

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

MESSAGES = {
    "malformed_request": _lp("problem", "The request is malformed: {reason}."),
    "validation_failed": _lp("problem", "Some fields are invalid."),
    "unauthorized": _lp("problem", "Sign in: a valid bearer token is required."),
    "invalid_credentials": _lp("problem", "Wrong e-mail or password."),
    "forbidden": _lp("problem", "You are not allowed to do this."),
    "email_unverified": _lp("problem", "Confirm your e-mail address first: we sent you a link (you can ask for another in your account)."),
    "not_found": _lp("problem", "Nothing here."),
    "contribution_not_found": _lp("problem", "This contribution does not exist."),
    "method_not_allowed": _lp("problem", "Method not allowed here."),
    "payload_too_large": _lp("problem", "The request is too large."),
    "unsupported_media_type": _lp("problem", "Send JSON (application/json) or a multipart form."),
    "email_taken": _lp("problem", "An account already uses this e-mail."),
    "registered": _lp("problem", "Done: if this address had no account, it has one now (sign in); either way, we sent it an e-mail."),
    "conflict": _lp("problem", "Conflict with the current state."),
    "already_withdrawn": _lp("problem", "This contribution was withdrawn."),
    "too_many_photos": _lp("problem", "At most {max} photos per contribution."),
    "too_many_requests": _lp("problem", "Too many requests; try again in {seconds} s."),
    "sign_in_locked": _lp("problem", "Too many failed sign-ins: try again in {seconds} s."),
    "service_unavailable": _lp("problem", "Service temporarily unavailable."),
    "statement_timeout": _lp("problem", "The request took too long and was stopped: narrow it (a "
                                        "shorter period, a smaller area) or try again later."),
    "internal_error": _lp("problem", "An internal error occurred; nothing was saved."),
    "illegal_transition": _lp("problem", "A report cannot go from '{from}' to '{to}'."),
    "out_of_scope": _lp("problem", "This report is outside your scope (service or arrondissement)."),
    "not_reporter_or_follower": _lp("problem", "Only the reporter and followers can answer."),
    "not_resolved": _lp("problem", "This report is not resolved."),
    "reopen_window_over": _lp("problem", "It was resolved more than {days} days ago: make a new report."),
    "required": _lp("problem", "This field is required."),
    "too_short": _lp("problem", "At least {min} characters."),
    "too_long": _lp("problem", "At most {max} characters."),
    "not_a_string": _lp("problem", "Text is expected."),
    "not_a_number": _lp("problem", "A number is expected."),
    "out_of_range": _lp("problem", "Value out of range ({min}–{max})."),
    "invalid_email": _lp("problem", "Invalid e-mail address."),
    "weak_password": _lp("problem", "The password must be at least {min} characters long."),
    "wrong_password": _lp("problem", "The current password is wrong."),
    "totp_required": _lp("problem", "This account has two-factor sign-in: give the code of your authenticator app."),
    "invalid_totp": _lp("problem", "Wrong or already used code."),
    "totp_already_enabled": _lp("problem", "Two-factor sign-in is already on."),
    "totp_not_started": _lp("problem", "Start the enrolment first."),
    "totp_not_enabled": _lp("problem", "Two-factor sign-in is off."),
    "invalid_link": _lp("problem", "This link is invalid, used or expired: ask for a new one."),
    "email_verified": _lp("problem", "Your e-mail address is confirmed."),
    "verification_sent": _lp("problem", "We sent a new confirmation link to your address."),
    "password_reset_sent": _lp("problem", "If an account has this address, we sent it a link to choose a new password."),
    "password_reset_done": _lp("problem", "Your password is changed; sign in with it."),
    "oidc_refused": _lp("problem", "Sign-in with the city account failed or was cancelled."),
    "oidc_no_email": _lp("problem", "The city account did not share an e-mail address: allow it and try again."),
    "oidc_email_unverified": _lp("problem", "An account already uses this e-mail address, which the city account does not confirm: sign in with your password."),
    "account_disabled": _lp("problem", "This account is closed."),
    "already_flagged": _lp("problem", "You already flagged it; moderators will review it."),
    "decision_not_applicable": _lp("problem", "This decision does not apply to this kind of item."),
    "flagged": _lp("problem", "Thank you: moderators will review it."),
    "nothing_to_change": _lp("problem", "Give the new text."),
    "not_editable": _lp("problem", "This kind of item has no such field."),
    "decided": _lp("problem", "Decision recorded; the author is told."),
    "invalid_api_key": _lp("problem", "A valid api_key is required: ask the city for one."),
    "unknown_jurisdiction": _lp("problem", "Unknown jurisdiction: this server serves paris.fr."),
    "unknown_service": _lp("problem", "Unknown service code."),
    "unknown_request": _lp("problem", "Unknown service request."),
    "unknown_token": _lp("problem", "Unknown token: requests are created at once, without tokens."),
    "needs_one_location": _lp("problem", "Give one location: lat and long, address_string or address_id."),
    "unknown_address": _lp("problem", "No such address in Paris."),
    "routed_to": _lp("problem", "Sent to the team in charge: {service}."),
    "category_created": _lp("problem", "Category added."),
    "category_saved": _lp("problem", "Category saved: the map shows it now."),
    "service_created": _lp("problem", "Service added."),
    "service_saved": _lp("problem", "Service renamed."),
    "roles_saved": _lp("problem", "Roles saved."),
    "scopes_saved": _lp("problem", "Scopes saved."),
    "api_key_revoked": _lp("problem", "Key revoked: it no longer works."),
    "invalid_parent": _lp("problem", "Choose a top-level category of the same kind."),
    "has_children": _lp("problem", "A category with sub-categories stays at the top level."),
    "already_exists": _lp("problem", "This code is already used."),
    "cannot_demote_self": _lp("problem", "You cannot remove your own admin role: ask another admin."),
    "edited": _lp("problem", "Edited; the original is kept in the audit log."),
    "password_changed": _lp("problem", "Your password is changed; your other sessions are signed out."),
    "totp_disabled": _lp("problem", "Two-factor sign-in is off."),
    "account_deleted": _lp("problem", "Your account is deleted. Your contributions stay, attributed to a former account."),
    "feedback_given": _lp("problem", "You already answered since this report was resolved."),
    "idempotency_key_reused": _lp("problem", "This Idempotency-Key was already used for another request."),
    "unknown_category": _lp("problem", "Unknown category for this kind of contribution."),
    "category_disabled": _lp("problem", "This category is no longer in use: choose another one."),
    "category_agent_only": _lp("problem", "This category is for the city's agents: choose another one."),
    "invalid_status": _lp("problem", "Unknown status."),
    "invalid_value": _lp("problem", "Invalid value."),
    "invalid_bbox": _lp("problem", "bbox expects four numbers: west,south,east,north."),
    "invalid_date": _lp("problem", "An ISO 8601 date is expected (YYYY-MM-DD)."),
    "invalid_vote": _lp("problem", "A vote is 1 (agree) or -1 (disagree, proposals only)."),
    "invalid_cursor": _lp("problem", "Invalid pagination cursor."),
    "photo_unreadable": _lp("problem", "This file is not a readable JPEG, PNG or WebP image."),
    "photo_too_large": _lp("problem", "A photo is at most 10 MB."),
    "unknown_field": _lp("problem", "Unknown field."),
    "empty_period": _lp("problem", "The period is empty: the end must be after the start ({min})."),
    "period_too_long": _lp("problem", "At most {max} days between since and until."),
    # the detail of a statistics series' `period_too_long` (app.planner.services.timeseries)
    "series_too_long": _lp("problem", "A series has at most {max} points: shorten the period "
                                      "between since and until, or choose a longer interval."),
    "below_public_minimum": _lp("problem", "At least {min}: smaller counts are for planners only."),
    "unknown_agent": _lp("problem", "No agent has this id."),
    "needs_position": _lp("problem", "Sorting by distance needs lon and lat."),
    "too_many_items": _lp("problem", "At most {max} items."),
    "too_few_items": _lp("problem", "At least {min} items."),
    "date_in_past": _lp("problem", "The date cannot be in the past."),
    # consultations and the city's answers (app.consultations)
    "consultation_not_found": _lp("problem", "This consultation does not exist."),
    "consultation_not_taking_ideas": _lp("problem", "This consultation takes ideas from {start} to {end} (Paris time), not now."),
    "outside_consultation_area": _lp("problem", "This place is outside the consultation's area."),
    "geometry_type_not_accepted": _lp("problem", "This consultation accepts only: {allowed}."),
    "theme_not_in_consultation": _lp("problem", "This consultation accepts only these themes: {themes}."),
    "consultation_phase": _lp("problem", "The consultation's current phase ({phase}) does not allow this."),
    "consultation_not_open": _lp("problem", "The consultation takes no ideas or votes now ({phase})."),
    "already_published": _lp("problem", "This consultation is already published."),
    "synthesis_not_yet": _lp("problem", "The synthesis is published when participation is over."),
    "ideas_first": _lp("problem", "The first phase is the ideas phase."),
    "phases_out_of_order": _lp("problem", "Phases come once each, in this order: {order}."),
    "phase_not_contiguous": _lp("problem", "This phase must start on {day}, the day after the previous one ends."),
    "phase_started": _lp("problem", "The consultation has started: its phases can no longer change (close it to end it early)."),
    "frozen_once_published": _lp("problem", "This cannot change once the consultation is published."),
    "area_needs_one": _lp("problem", "Give one area: arrondissements, quartiers or a polygon."),
    "illegal_answer": _lp("problem", "A proposal cannot go from '{from}' to '{to}'."),
    "planners_only": _lp("problem", "Only planners link reports to a proposal."),
    "invalid_scale_vote": _lp("problem", "This consultation votes on a scale: -2, -1, 0, 1 or 2."),
    "unknown_report": _lp("problem", "Unknown report."),
    # petitions (app.petitions)
    "petition_not_found": _lp("problem", "This petition does not exist."),
    "petition_not_draft": _lp("problem", "Only a draft can be changed or submitted."),
    "petition_not_awaiting_moderation": _lp("problem", "This petition is not awaiting moderation."),
    "petition_not_open": _lp("problem", "This petition is not open for signatures yet."),
    "petition_closed": _lp("problem", "This petition no longer collects signatures."),
    "petition_not_answerable": _lp("problem", "This petition cannot be answered: it is not published, or it is already answered."),
    "not_with_geometry": _lp("problem", "Give a place on the map or an arrondissement, not both."),
    "not_below_referral": _lp("problem", "The answer threshold must be below the referral threshold."),
    "signed": _lp("problem", "Thank you: your signature is counted."),
    "unsigned": _lp("problem", "Your signature is withdrawn."),
    "petition_saved": _lp("problem", "Draft saved."),
    "petition_submitted": _lp("problem", "Sent to moderation: you will receive an e-mail when it is decided."),
    "petition_moderated": _lp("problem", "Decision recorded; the author is told."),
    "petition_answered": _lp("problem", "Answer published; the signers are told."),
    "petition_settings_saved": _lp("problem", "Saved: it applies to petitions opened from now on."),
    # participatory budget
    "budget_not_found": _lp("problem", "This participatory budget does not exist."),
    "budget_project_not_found": _lp("problem", "This budget project does not exist."),
    "budget_phase": _lp("problem", "The participatory budget's current phase ({phase}) does not allow this."),
    "budget_year_taken": _lp("problem", "A participatory budget already exists for {year}."),
    "budget_published": _lp("problem", "A published participatory budget cannot go back to draft."),
    "budget_frozen_once_published": _lp("problem", "This cannot change once the participatory budget is published."),
    "budget_frozen_after_vote": _lp("problem", "This cannot change once the vote has started."),
    "budget_phase_started": _lp("problem", "The phase {phase} has started: its start, and its end once it is over, cannot change."),
    "duplicate_envelope": _lp("problem", "There is already an envelope for this arrondissement (or for all of Paris)."),
    "popular_share_above_amount": _lp("problem", "The share reserved for the quartiers populaires cannot exceed the envelope's amount."),
    "envelope_has_projects": _lp("problem", "The envelope {arrondissement} holds projects: it cannot be removed."),
    "no_envelope": _lp("problem", "This participatory budget has no envelope for this place ({arrondissement})."),
    "unknown_proposal": _lp("problem", "Unknown proposal."),
    "not_your_proposal": _lp("problem", "Only its author can turn a proposal into a budget project."),
    "unknown_contribution": _lp("problem", "Unknown proposal or report."),
    "budget_project_status": _lp("problem", "Not possible for a project whose status is '{status}'."),
    "budget_project_merged": _lp("problem", "This project was merged into project {into}: support that one."),
    "merge_into_itself": _lp("problem", "A project cannot be merged into itself."),
    "unknown_budget_project": _lp("problem", "No project of this participatory budget has this id."),
    "merge_other_envelope": _lp("problem", "Only projects of the same envelope can be merged."),
    "budget_envelope_not_found": _lp("problem", "This participatory budget has no such envelope."),
    "not_this_ballot_method": _lp("problem", "Not for this ballot ({method}): send `projects` under approval or knapsack, `grades` under majority judgment."),
    "ballot_empty": _lp("problem", "Choose at least one project."),
    "duplicate_choice": _lp("problem", "Project {project} is on your ballot twice."),
    "not_on_ballot": _lp("problem", "Project {project} is not on this envelope's ballot."),
    "grade_out_of_range": _lp("problem", "A grade goes from 0 (the worst) to {max} (the best)."),
    "too_many_choices": _lp("problem", "Choose at most {max} projects."),
    "over_budget": _lp("problem", "Your projects cost {total}, more than the envelope's {amount}: remove one."),
    "ballot_other_arrondissement": _lp("problem", "You already vote in arrondissement {arrondissement} this year: withdraw that ballot to vote in another one."),
    "ballot_key_changed": _lp("problem", "Your ballot can no longer be changed (the platform's key changed during the vote); it is still counted."),
    "ballot_not_found": _lp("problem", "No ballot found."),
    "budget_not_counted": _lp("problem", "The vote is not counted yet."),
    "budget_delivery_started": _lp("problem", "Deliveries are recorded: the count can no longer run again."),
    "too_many_project_photos": _lp("problem", "At most {max} photos here: remove one first."),
    "photo_not_found": _lp("problem", "This project has no such photo."),
    "ballot_cast": _lp("problem", "Your ballot is recorded. You can change it until the vote closes."),
    "ballot_withdrawn": _lp("problem", "Your ballot is withdrawn."),
    "budget_counted": _lp("problem", "Counted: the results are published."),
    # volunteer missions (app.missions)
    "organisation_not_found": _lp("problem", "No such organisation."),
    "mission_not_found": _lp("problem", "No such mission."),
    "signup_not_found": _lp("problem", "No such sign-up."),
    "member_not_found": _lp("problem", "This person is not a member of the organisation."),
    "rna_or_siren_required": _lp("problem", "Give the organisation's RNA number (associations) or its SIREN number."),
    "siren_checksum": _lp("problem", "This SIREN number is not valid: check its 9 digits."),
    "organisation_exists": _lp("problem", "An organisation with this number is already registered."),
    "organisation_status": _lp("problem", "Not possible for an organisation whose status is '{status}'."),
    "reason_required": _lp("problem", "Give a reason."),
    "no_such_account": _lp("problem", "No account has this e-mail address: the person must create one first."),
    "too_many_members": _lp("problem", "An organisation has at most {max} members."),
    "owner_only": _lp("problem", "Only the organisation's owners can do this."),
    "last_owner": _lp("problem", "The organisation must keep at least one owner."),
    "slots_required": _lp("problem", "Add at least one slot."),
    "too_many_slots": _lp("problem", "At most {max} slots."),
    "ends_before_start": _lp("problem", "The end must come after the start."),
    "weekdays_required": _lp("problem", "Choose at least one day of the week."),
    "recurrence_too_long": _lp("problem", "A recurrence spans at most {max} days."),
    "recurrence_empty": _lp("problem", "None of these weekdays falls between these dates."),
    "recurrence_required": _lp("problem", "A recurring mission needs its recurrence."),
    "period_required": _lp("problem", "An open-period mission needs its period."),
    "place_required": _lp("problem", "Give at least one place, or mark the mission as fully remote."),
    "link_target_not_found": _lp("problem", "Nothing public of this kind ({kind}) has this id."),
    "mission_status": _lp("problem", "Not possible for a mission whose status is '{status}'."),
    "mission_slots_locked": _lp("problem", "The slots of a published mission cannot be replaced: change a slot's capacity instead."),
    "mission_no_open_slot": _lp("problem", "None of its slots is still open to sign-ups: add a future slot first."),
    "capacity_below_taken": _lp("problem", "{taken} places are already taken: the capacity cannot be lower."),
    "slot_not_found": _lp("problem", "This mission has no such slot."),
    "mission_not_open": _lp("problem", "This mission takes no sign-ups (status '{status}')."),
    "slot_closed": _lp("problem", "This slot has already started or ended."),
    "age_confirmation_required": _lp("problem", "This mission is for volunteers aged {age} or more: please confirm your age."),
    "already_signed_up": _lp("problem", "You are already signed up for this slot."),
    "not_your_signup": _lp("problem", "Only the volunteer can cancel their sign-up."),
    "signup_status": _lp("problem", "Not possible for a sign-up whose status is '{status}'."),
    "invalid_point": _lp("problem", "A point is written lon,lat in degrees (WGS84), e.g. 2.3372,48.848."),
    "invalid_time": _lp("problem", "A time is written HH:MM (24 hours)."),
    # area alerts (app.alerts)
    "alert_not_found": _lp("problem", "No such alert."),
    "alert_exists": _lp("problem", "You already follow this area."),
    "too_many_alerts": _lp("problem", "At most {max} alerts per account: delete one first."),
    "not_allowed": _lp("problem", "Not for this kind of area."),
}

# geometry failures (codes raised by geo/validation.py, which knows no language)
GEOMETRY_MESSAGES = {
    "geometry_missing": _lp("geometry", "Place the contribution on the map."),
    "geometry_malformed": _lp("geometry", "The location is not a valid GeoJSON geometry: {reason}."),
    "geometry_type_not_allowed": _lp("geometry", "{kind} can be a {allowed}, not a {type}."),
    "coordinates_not_finite": _lp("geometry", "Coordinates must be finite numbers (longitude, latitude)."),
    "coordinates_out_of_range": _lp("geometry", "Coordinates must be WGS84 degrees: longitude between -180 and 180, latitude between -90 and 90."),
    "coordinates_swapped": _lp("geometry", "The coordinates look swapped: give longitude before latitude (e.g. [2.35, 48.85])."),
    "geometry_too_complex": _lp("geometry", "The shape has {count} vertices; at most {max} are accepted. Simplify it."),
    "geometry_invalid": _lp("geometry", "The shape crosses itself or is malformed ({reason}). Redraw it without crossings."),
    "outside_paris": _lp("geometry", "This location is outside Paris. Cartagora only covers the 20 arrondissements."),
}
GEOMETRY_KINDS = {
    "report": _lp("geometry kind", "A report"),
    "proposal": _lp("geometry kind", "A proposal"),
    "petition": _lp("geometry kind", "A petition's place"),
    "area": _lp("geometry kind", "A consultation's area"),
    "budget_project": _lp("geometry kind", "A budget project"),
    "mission": _lp("geometry kind", "A place"),
}
GEOMETRY_TYPES = {
    "Point": _lp("geometry type", "point"),
    "LineString": _lp("geometry type", "line"),
    "Polygon": _lp("geometry type", "polygon"),
    "MultiPolygon": _lp("geometry type", "set of polygons"),
}


def current_language() -> str:
    """The one locale resolver: `?lang=`, then the language chosen on the pages (session),
    then, under /api/ and the feeds, `Accept-Language`; French by default."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        return lang
    chosen = session.get("lang") if request.cookies else None
    if chosen in LANGUAGES:
        return chosen
    if request.path.startswith(("/api/", "/feeds/", "/media/", "/healthz")):
        return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)
    return DEFAULT_LANGUAGE


def _in(lang: str, text) -> str:
    with force_locale(lang):
        return str(text)


def in_both(text) -> tuple[str, str]:
    """(French, English) of a catalogue string: e-mails speak both, their reader's language
    unknown."""
    return _in("fr", text), _in("en", text)


def message(code: str, params: dict | None = None, lang: str | None = None) -> str:
    """The message of `code` in `lang` (the request's by default), params filled in."""
    lang = lang or current_language()
    if code in GEOMETRY_MESSAGES:
        return geometry_message(code, params or {}, lang)
    template = _in(lang, MESSAGES.get(code) or MESSAGES["invalid_value"])
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template


def geometry_message(code: str, params: dict, lang: str) -> str:
    params = dict(params)
    if "kind" in params:  # the domain words carried as raw values, in the language
        params["kind"] = _in(lang, GEOMETRY_KINDS[params["kind"]])
        params["allowed"] = _in(lang, _lp("geometry", " or ")).join(
            _in(lang, GEOMETRY_TYPES[t]) for t in params["allowed"])
        kind = params["type"]
        params["type"] = _in(lang, GEOMETRY_TYPES[kind]) if kind in GEOMETRY_TYPES else kind
    template = _in(lang, GEOMETRY_MESSAGES[code])
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template

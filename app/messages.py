"""User-facing messages of the API problems, in French and English, keyed by stable code."""

from flask import has_request_context, request

MESSAGES: dict[str, tuple[str, str]] = {
    "malformed_request": ("La requête est mal formée : {reason}.", "The request is malformed: {reason}."),
    "validation_failed": ("Certains champs sont invalides.", "Some fields are invalid."),
    "unauthorized": (
        "Connectez-vous : un jeton d'accès valide est requis.",
        "Sign in: a valid bearer token is required.",
    ),
    "invalid_credentials": ("E-mail ou mot de passe incorrect.", "Wrong e-mail or password."),
    "forbidden": ("Vous n'avez pas le droit de faire cela.", "You are not allowed to do this."),
    "not_found": ("Rien ici.", "Nothing here."),
    "contribution_not_found": ("Cette contribution n'existe pas.", "This contribution does not exist."),
    "method_not_allowed": ("Méthode non autorisée ici.", "Method not allowed here."),
    "payload_too_large": ("La requête est trop volumineuse.", "The request is too large."),
    "unsupported_media_type": (
        "Envoyez du JSON (application/json) ou un formulaire multipart.",
        "Send JSON (application/json) or a multipart form.",
    ),
    "email_taken": ("Un compte existe déjà avec cet e-mail.", "An account already uses this e-mail."),
    "conflict": ("Conflit avec l'état actuel.", "Conflict with the current state."),
    "already_withdrawn": ("Cette contribution a été retirée.", "This contribution was withdrawn."),
    "too_many_photos": (
        "Au plus {max} photos par contribution.",
        "At most {max} photos per contribution.",
    ),
    "too_many_requests": ("Trop de requêtes ; réessayez plus tard.", "Too many requests; try again later."),
    "service_unavailable": (
        "Service momentanément indisponible.",
        "Service temporarily unavailable.",
    ),
    "internal_error": (
        "Une erreur interne est survenue ; rien n'a été enregistré.",
        "An internal error occurred; nothing was saved.",
    ),
    "illegal_transition": (
        "Passage impossible de « {from} » à « {to} ».",
        "A report cannot go from '{from}' to '{to}'.",
    ),
    "out_of_scope": (
        "Ce signalement n'est pas dans votre périmètre (service ou arrondissement).",
        "This report is outside your scope (service or arrondissement).",
    ),
    "not_reporter_or_follower": (
        "Seuls l'auteur du signalement et ses abonnés peuvent répondre.",
        "Only the reporter and followers can answer.",
    ),
    "not_resolved": ("Ce signalement n'est pas résolu.", "This report is not resolved."),
    "reopen_window_over": (
        "La résolution date de plus de {days} jours : faites un nouveau signalement.",
        "It was resolved more than {days} days ago: make a new report.",
    ),
    # field errors
    "required": ("Ce champ est obligatoire.", "This field is required."),
    "too_short": ("Au moins {min} caractères.", "At least {min} characters."),
    "too_long": ("Au plus {max} caractères.", "At most {max} characters."),
    "not_a_string": ("Du texte est attendu.", "Text is expected."),
    "not_a_number": ("Un nombre est attendu.", "A number is expected."),
    "out_of_range": ("Valeur hors limites ({min}–{max}).", "Value out of range ({min}–{max})."),
    "invalid_email": ("Adresse e-mail invalide.", "Invalid e-mail address."),
    "weak_password": (
        "Le mot de passe doit faire au moins {min} caractères.",
        "The password must be at least {min} characters long.",
    ),
    "unknown_category": (
        "Catégorie inconnue pour ce type de contribution.",
        "Unknown category for this kind of contribution.",
    ),
    "invalid_status": ("Statut inconnu.", "Unknown status."),
    "invalid_value": ("Valeur invalide.", "Invalid value."),
    "invalid_bbox": (
        "bbox attend quatre nombres : ouest,sud,est,nord.",
        "bbox expects four numbers: west,south,east,north.",
    ),
    "invalid_date": (
        "Date attendue au format ISO 8601 (AAAA-MM-JJ).",
        "An ISO 8601 date is expected (YYYY-MM-DD).",
    ),
    "invalid_vote": (
        "Un vote vaut 1 (d'accord) ou -1 (pas d'accord, propositions seulement).",
        "A vote is 1 (agree) or -1 (disagree, proposals only).",
    ),
    "invalid_cursor": ("Curseur de pagination invalide.", "Invalid pagination cursor."),
    "photo_unreadable": (
        "Ce fichier n'est pas une image JPEG, PNG ou WebP lisible.",
        "This file is not a readable JPEG, PNG or WebP image.",
    ),
    "photo_too_large": ("Une photo fait au plus 10 Mo.", "A photo is at most 10 MB."),
    "unknown_field": ("Champ inconnu.", "Unknown field."),
    "too_many_items": ("Au plus {max} éléments.", "At most {max} items."),
    "too_few_items": ("Au moins {min} éléments.", "At least {min} items."),
    "date_in_past": ("La date ne peut pas être passée.", "The date cannot be in the past."),
    "unknown_report": ("Signalement inconnu.", "Unknown report."),
}


def current_language() -> str:
    """'en' or 'fr' (the default), from ?lang= or Accept-Language."""
    if not has_request_context():
        return "fr"
    lang = request.args.get("lang")
    if lang in ("fr", "en"):
        return lang
    return request.accept_languages.best_match(("fr", "en"), default="fr")


def message(code: str, params: dict | None = None, lang: str | None = None) -> str:
    fr, en = MESSAGES.get(code, MESSAGES["invalid_value"])
    template = en if (lang or current_language()) == "en" else fr
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template

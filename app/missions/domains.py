"""API Engagement's lists (betagouv/api-engagement, api/docs/openapi.yaml): a mission's domain,
its activities and its remote values, with their labels (English msgids, French in the
catalogue)."""

from flask_babel import lazy_gettext as _l

DOMAINS = {
    "environnement": _l("Environment"),
    "solidarite-insertion": _l("Solidarity and inclusion"),
    "prevention-protection": _l("Prevention and protection"),
    "sante": _l("Health"),
    "culture-loisirs": _l("Culture and leisure"),
    "education": _l("Education"),
    "emploi": _l("Employment"),
    "sport": _l("Sport"),
    "humanitaire": _l("Humanitarian aid"),
    "animaux": _l("Animals"),
    "vivre-ensemble": _l("Living together"),
    "memoire-et-citoyennete": _l("Remembrance and citizenship"),
    "benevolat-competences": _l("Skills-based volunteering"),
    "autre": _l("Other"),
}

# API Engagement's activities, verbatim (some are labels with capitals and commas)
ACTIVITIES = (
    "accueil-de-public", "aide-psychologique", "activites-manuelles", "alphabetisation", "animation",
    "Animation, Valorisation", "art", "autre", "bricolage", "collecte", "communication",
    "comptabilite-finance", "conseil", "distribution", "documentation-traduction", "ecoute-permanence",
    "encadrement-d-equipes", "enseignement-formation", "gestion-de-projets",
    "gestion-recherche-des-partenariats", "informatique", "jardinage", "juridique", "logistique",
    "lutte-contre-isolement", "Médiation, Information", "mentorat-parrainage", "mission-internationale",
    "Préservation, Patrimoine", "Prévention, Sensibilisation", "ramassage-dechets", "recrutement",
    "responsabilites-associatives", "sante-soins", "Secours, Aide", "secourisme", "sensibilisation",
    "soins-animaux", "Soutien, Accompagnement", "soutien-scolaire", "sport", "taches-administratives",
    "Transmission, Pédagogie", "visites",
)

REMOTE_LABELS = {"no": _l("On site"), "possible": _l("On site or remote"), "full": _l("Remote")}

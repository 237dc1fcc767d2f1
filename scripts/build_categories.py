"""Build data/categories.json from a DansMaRue export (the type / sub-type tree) + our themes.

Run once when DansMaRue's tree changes:  python scripts/build_categories.py FILE.csv
Codes are stable slugs; the import maps a row's (type, soustype) through `source_label`.
English sub-type labels come from scripts/category_labels_en.json (code -> label); a new
sub-type without one shows its French label to English readers until it is added there.
"""

import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from geo.text import fold  # noqa: E402

SERVICES = [
    ("proprete", "Propreté (DPE)", "Street cleaning (DPE)"),
    ("encombrants", "Enlèvement des encombrants (DPE, Ramen)", "Bulky waste collection (DPE, Ramen)"),
    ("graffitis", "Effacement des graffitis (DPE)", "Graffiti removal (DPE)"),
    ("voirie", "Voirie et déplacements (DVD)", "Roads and mobility (DVD)"),
    ("mobilier", "Mobilier urbain (DVD, SMEP)", "Street furniture (DVD, SMEP)"),
    ("eclairage", "Éclairage public (DVD, CIELIS)", "Street lighting (DVD, CIELIS)"),
    ("police", "Police municipale (DPMP)", "Municipal police (DPMP)"),
    ("espaces-verts", "Espaces verts et environnement (DEVE)", "Parks and environment (DEVE)"),
    ("eau", "Eau et assainissement (DPE, Eau de Paris)", "Water and sewers (DPE, Eau de Paris)"),
]

# DansMaRue type -> (code, English label, service)
TYPES = {
    "Propreté": ("proprete", "Cleanliness", "proprete"),
    "Objets abandonnés": ("objets-abandonnes", "Abandoned objects", "encombrants"),
    "Graffitis, tags, affiches et autocollants": (
        "graffitis", "Graffiti, tags, posters and stickers", "graffitis"),
    "Voirie et espace public": ("voirie", "Roads and public space", "voirie"),
    "Mobiliers urbains": ("mobiliers-urbains", "Street furniture", "mobilier"),
    "Éclairage / Électricité": ("eclairage", "Lighting / electricity", "eclairage"),
    "Autos, motos, vélos, trottinettes...": (
        "vehicules", "Cars, motorbikes, bikes, scooters…", "police"),
    "Arbres, végétaux et animaux": ("arbres", "Trees, plants and animals", "espaces-verts"),
    "Eau": ("eau", "Water", "eau"),
    "Activités commerciales et professionnelles": (
        "commerces", "Shops and businesses", "police"),
}

THEMES = [
    ("mobilite", "Mobilité", "Mobility", [
        ("mobilite.velo", "Vélo", "Cycling"),
        ("mobilite.marche", "Marche et piétons", "Walking"),
        ("mobilite.transports", "Transports en commun", "Public transport"),
    ]),
    ("vegetalisation", "Végétalisation", "Greening", [
        ("vegetalisation.arbres", "Planter des arbres", "Tree planting"),
        ("vegetalisation.jardins", "Jardins partagés", "Community gardens"),
    ]),
    ("proprete-cadre-de-vie", "Propreté", "Cleanliness", []),
    ("culture", "Culture et patrimoine", "Culture and heritage", []),
    ("securite", "Sécurité", "Safety", []),
    ("espace-public", "Espace public", "Public space", [
        ("espace-public.places", "Places et rues apaisées", "Calmer streets and squares"),
        ("espace-public.mobilier", "Bancs et mobilier", "Benches and furniture"),
    ]),
    ("sport", "Sport", "Sport", []),
    ("solidarite", "Solidarité", "Solidarity", []),
    ("education", "Éducation et jeunesse", "Education and youth", []),
    ("autre", "Autre", "Other", []),
]


def clean(label: str) -> str:
    """DansMaRue sub-type labels carry markers such as '[] '; keep the words."""
    return " ".join(label.replace("[]", " ").split())


LABELS_EN = Path(__file__).resolve().parent / "category_labels_en.json"


def main(path: str) -> None:
    labels_en = json.loads(LABELS_EN.read_text(encoding="utf-8"))
    tree: dict[str, Counter] = defaultdict(Counter)
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            tree[row["type"]][row["soustype"]] += 1
    categories = []
    for t_pos, (type_label, (code, label_en, service)) in enumerate(TYPES.items()):
        children, seen = [], set()
        for s_pos, sub in enumerate(sorted(tree[type_label])):
            slug = "-".join(fold(clean(sub)).split())[:60] or "autre"
            sub_code, n = f"{code}.{slug}", 2
            while sub_code in seen:
                sub_code, n = f"{code}.{slug}-{n}", n + 1
            seen.add(sub_code)
            children.append({
                "code": sub_code, "label_fr": clean(sub), "label_en": labels_en.get(sub_code),
                "source_label": f"{type_label}\x1f{sub}", "position": s_pos,
            })
        categories.append({
            "code": code, "label_fr": type_label, "label_en": label_en, "service": service,
            "source_label": type_label, "position": t_pos, "children": children,
        })
    themes = [
        {"code": c, "label_fr": fr, "label_en": en, "position": i,
         "children": [{"code": cc, "label_fr": cfr, "label_en": cen, "position": j}
                      for j, (cc, cfr, cen) in enumerate(kids)]}
        for i, (c, fr, en, kids) in enumerate(THEMES)
    ]
    out = {
        "source": "DansMaRue open data (Ville de Paris, ODbL), types and sub-types",
        "services": [{"code": c, "name_fr": fr, "name_en": en} for c, fr, en in SERVICES],
        "report": categories,
        "proposal": themes,
    }
    target = Path(__file__).resolve().parent.parent / "data" / "categories.json"
    target.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    subs = [s for c in categories for s in c["children"]]
    untranslated = [s["code"] for s in subs if not s["label_en"]]
    print(f"{target}: {len(categories)} types, {len(subs)} sub-types, {len(untranslated)} without "
          f"an English label{': ' + ', '.join(untranslated) if untranslated else ''}")


if __name__ == "__main__":
    main(sys.argv[1])

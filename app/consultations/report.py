"""A consultation's interactive HTML report, built with leafmap like the planner's
(app.planner.report): the area outlined, a heat layer of the proposals weighted by their votes,
the proposals coloured by score, and the counts in the title."""

from __future__ import annotations

import html
import json

from sqlalchemy.orm import Session

from app.consultations import services
from app.consultations.models import Consultation
from app.planner.report import ReportUnavailable, self_contained


def build(session: Session, consultation: Consultation, about: dict) -> str:
    try:
        import leafmap.foliumap as leafmap
    except ImportError as exc:  # the `report` extra is not installed
        raise ReportUnavailable() from exc

    rows = services.proposals_of(session, consultation)
    summary = services.synthesis(session, consultation, rows)
    w, s, e, n = about["bbox"]
    m = leafmap.Map(center=[(s + n) / 2, (w + e) / 2], zoom=14, draw_control=False,
                    measure_control=False, fullscreen_control=False, attribution_control=True)
    m.add_geojson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": about["area"], "properties": {"nom": consultation.title}}]},
                  layer_name="Périmètre", style={"color": "#000091", "weight": 3, "fillOpacity": 0.04})
    if summary["heat"]:
        import pandas as pd

        m.add_heatmap(pd.DataFrame(summary["heat"], columns=["lat", "lon", "weight"]), latitude="lat",
                      longitude="lon", value="weight", name="Chaleur (propositions × votes)", radius=25)
        colours = {True: "#18753c", False: "#ce0500"}
        features = [{"type": "Feature", "geometry": json.loads(r["geometry"]), "properties": {
            "titre": r["title"], "score": r["score"], "pour": r["votes_up"], "contre": r["votes_down"],
            "thème": r["theme"], "colour": colours[r["score"] >= 0]}} for r in rows]
        m.add_geojson({"type": "FeatureCollection", "features": features}, layer_name="Propositions",
                      style_callback=lambda f: {"color": f["properties"]["colour"], "weight": 3,
                                                "fillOpacity": 0.3},
                      info_mode="on_click")
    c = summary["counts"]
    title = (f"<h3 style='margin:4px'>{html.escape(consultation.title)}</h3>"
             f"<p style='margin:4px'>{html.escape(consultation.question)} · {c['proposals']} propositions · "
             f"{c['votes']} votes de {c['voters']} personnes · {c['comments']} commentaires</p>")
    m.add_title(title, font_size="14px", align="left")
    return self_contained(m.to_html())

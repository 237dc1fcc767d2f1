"""Atom feeds (RFC 4287) of status changes and new items."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.contributions.models import Contribution
from app.field import workflow

ATOM = "http://www.w3.org/2005/Atom"


def _feed(title: str, feed_id: str, link: str, entries: list[dict]) -> str:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = feed_id
    ET.SubElement(feed, f"{{{ATOM}}}link", href=link)
    updated = max((e["updated"] for e in entries), default=datetime.now(UTC))
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = updated.isoformat()
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "Cartagora"
    for e in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = e["title"]
        ET.SubElement(entry, f"{{{ATOM}}}id").text = e["id"]
        ET.SubElement(entry, f"{{{ATOM}}}link", href=e["link"])
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = e["updated"].isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = e["summary"]
    return ET.tostring(feed, encoding="unicode", xml_declaration=True)


def _status_entry(root: str, row) -> dict:
    fr, en = workflow.both_languages(workflow.LABELS, row.to_status)
    summary = f"{fr} / {en}"
    if row.public_note and row.public_note != "still_there":
        summary += f" — {row.public_note}"
    return {"title": f"#{row.cid} {row.title}: {fr}", "id": f"{root}events/{row.id}",
            "link": f"{root}c/{row.cid}", "updated": row.created_at, "summary": summary}


def report_feed(session: Session, report: Contribution, root: str) -> str:
    rows = session.execute(text("""
        SELECT e.id, e.to_status, e.public_note, e.created_at, c.id AS cid, c.title
        FROM status_events e JOIN contributions c ON c.id = e.contribution_id
        WHERE e.contribution_id = :id ORDER BY e.created_at DESC, e.id DESC LIMIT 100
    """), {"id": report.id}).all()
    return _feed(f"#{report.id} {report.title}", f"{root}feeds/reports/{report.id}",
                 f"{root}c/{report.id}", [_status_entry(root, r) for r in rows])


def arrondissement_feed(session: Session, number: int, root: str) -> str:
    params = {"arr": number}
    changes = session.execute(text("""
        SELECT e.id, e.to_status, e.public_note, e.created_at, c.id AS cid, c.title
        FROM status_events e JOIN contributions c ON c.id = e.contribution_id
        WHERE c.arrondissement_id = :arr AND c.withdrawn_at IS NULL AND NOT c.hidden
        ORDER BY e.created_at DESC, e.id DESC LIMIT 50
    """), params).all()
    new = session.execute(text("""
        SELECT c.id, c.kind, c.title, c.created_at FROM contributions c
        WHERE c.arrondissement_id = :arr AND c.withdrawn_at IS NULL AND NOT c.hidden
        ORDER BY c.created_at DESC, c.id DESC LIMIT 50
    """), params).all()
    entries = [_status_entry(root, r) for r in changes] + [
        {"title": f"#{r.id} {r.title}", "id": f"{root}contributions/{r.id}",
         "link": f"{root}c/{r.id}", "updated": r.created_at,
         "summary": "Nouveau signalement / new report" if r.kind == "report"
         else "Nouvelle proposition / new proposal"}
        for r in new]
    entries.sort(key=lambda e: e["updated"], reverse=True)
    return _feed(f"Paris {number}e — Cartagora", f"{root}feeds/arrondissements/{number}",
                 f"{root}api/v1/reports?arrondissement={number}", entries[:50])

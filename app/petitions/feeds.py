"""The Atom feed (RFC 4287) of petitions opened and answered, written by feedgen; its texts in
French and English (a feed reader's language is unknown)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from flask_babel import lazy_pgettext as _lp
from sqlalchemy.orm import Session

from app.messages import in_both
from app.petitions import services

FEED_TITLE = _lp("feed", "Petitions in Paris")
OPENED = _lp("feed", "New petition: {title}")
ANSWERED = _lp("feed", "The city answered: {title}")
SUMMARY_MAX = 600
# what XML 1.0 cannot hold (control characters a petition's text may carry): lxml refuses it
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return NOT_XML.sub("", text)


def petitions_feed(session: Session, root: str) -> bytes:
    """`root`: the site's URL with a trailing slash."""
    events = services.feed_events(session)
    feed = FeedGenerator()
    feed.id(f"{root}petitions/feed.atom")
    feed.title(" / ".join(in_both(FEED_TITLE)))
    feed.link(href=f"{root}petitions", rel="alternate", type="text/html")
    feed.link(href=f"{root}petitions/feed.atom", rel="self", type="application/atom+xml")
    feed.author({"name": "Cartagora"})
    feed.language("fr")
    feed.updated(max((e.at for e in events), default=datetime.now(UTC)))
    for e in events:
        entry = feed.add_entry(order="append")
        entry.id(f"{root}petitions/{e.petition_id}#event-{e.id}")
        heading = ANSWERED if e.to_status == "answered" else OPENED
        entry.title(_xml(" / ".join(t.format(title=e.title) for t in in_both(heading))))
        entry.link(href=f"{root}petitions/{e.petition_id}", rel="alternate", type="text/html")
        entry.updated(e.at)
        entry.published(e.at)
        text = e.answer if e.to_status == "answered" else f"{e.addressee} — {e.body}"
        entry.summary(_xml(text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"))
    return feed.atom_str(pretty=True)

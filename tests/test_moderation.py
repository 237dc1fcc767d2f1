"""Moderation (issue 13): flags, hiding at three, the queue, decisions told to the author,
edits keeping the original, bans, and the append-only audit log."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import browser, feature


@pytest.fixture
def moderator(make_user):
    return make_user(("moderator",), name="Modératrice")


def flag(who, subject_id, reason="spam", subject_type="contribution", note=None):
    body = {"subject_type": subject_type, "subject_id": subject_id, "reason": reason}
    if note:
        body["note"] = note
    return who.post("/api/v1/flags", json=body)


def mails_to(session, email):
    return session.execute(text("SELECT subject, body FROM outbox WHERE recipient = :e ORDER BY id"),
                           {"e": email}).all()


def test_three_flags_hide_until_reviewed_and_the_author_is_told(client, make_user, moderator, session):
    author = make_user(name="Auteur")
    rid = author.post("/api/v1/reports", json=feature(title="Publicité déguisée")).json["id"]
    a, b, c = (make_user(name=n) for n in "ABC")
    assert flag(a, rid).json == {"flags": 1, "hidden": False}
    again = flag(a, rid, "offensive")
    assert again.status_code == 409 and again.json["code"] == "already_flagged"
    other = flag(b, rid, "other")
    assert other.status_code == 422 and other.json["errors"][0] == {
        "field": "note", "code": "required", "detail": "Ce champ est obligatoire."}
    assert flag(b, rid, "other", note="Lien vers un site marchand").json == {"flags": 2, "hidden": False}
    assert client.get(f"/api/v1/reports/{rid}").status_code == 200
    assert flag(c, rid, "offensive").json == {"flags": 3, "hidden": True}

    assert client.get(f"/api/v1/reports/{rid}").status_code == 404
    assert flag(make_user(), rid).status_code == 404  # hidden: nothing left to flag
    subject, body = mails_to(session, author.email)[-1]
    assert subject.startswith("[Cartagora] Votre contribution est masquée")
    assert "Publicité déguisée" in body

    items = moderator.get("/api/v1/moderation/queue?state=hidden").json["items"]
    mine = [i for i in items if i["subject_id"] == rid]
    assert len(mine) == 1 and mine[0]["flags"] == 3 and mine[0]["hidden"] is True
    assert mine[0]["reasons"] == {"spam": 1, "other": 1, "offensive": 1}
    assert mine[0]["notes"] == [{"reason": "other", "note": "Lien vers un site marchand"}]
    assert mine[0]["author"]["display_name"] == "Auteur"
    flagged = moderator.get("/api/v1/moderation/queue?state=flagged&subject_type=contribution").json["items"]
    assert rid not in {i["subject_id"] for i in flagged}  # hidden now: not among the visible ones
    by_reason = moderator.get("/api/v1/moderation/queue?reason=offensive").json["items"]
    assert [(i["subject_id"], i["reasons"]["offensive"]) for i in by_reason if i["subject_id"] == rid] == [(rid, 1)]
    assert moderator.get("/api/v1/moderation/queue?reason=personal_data").json["items"] == []

    back = moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "contribution", "subject_id": rid, "action": "restore", "reason": "Information utile"})
    assert back.json == {"subject_type": "contribution", "subject_id": rid, "hidden": False, "banned": False,
                         "open_flags": 0}
    assert client.get(f"/api/v1/reports/{rid}").status_code == 200
    assert "Information utile" in mails_to(session, author.email)[-1][1]
    log = moderator.get(f"/api/v1/audit?subject_type=contribution&subject_id={rid}").json["entries"]
    assert [(e["action"], e["actor"] and e["actor"]["display_name"], e["reason"]) for e in log] == [
        ("restore", "Modératrice", "Information utile"), ("auto_hide", None, None)]
    assert log[0]["details"] == {"flags_closed": 3} and log[1]["details"] == {"flags": 3}


def test_a_moderator_edits_and_the_original_is_kept(client, make_user, moderator):
    author = make_user(name="Auteur")
    rid = author.post("/api/v1/reports", json=feature(title="Ce voisin est un idiot")).json["id"]
    r = moderator.post("/api/v1/moderation/edits", json={
        "subject_type": "contribution", "subject_id": rid, "title": "Nuisance signalée", "reason": "Injure"})
    assert r.status_code == 200, r.json
    assert client.get(f"/api/v1/reports/{rid}").json["properties"]["title"] == "Nuisance signalée"
    entry = moderator.get(f"/api/v1/audit?action=edit&subject_id={rid}").json["entries"][0]
    assert entry["details"]["original"] == {"title": "Ce voisin est un idiot"}
    assert entry["details"]["changed"] == {"title": "Nuisance signalée"}
    wrong = moderator.post("/api/v1/moderation/edits", json={
        "subject_type": "contribution", "subject_id": rid, "body": "x", "reason": "r"})
    assert wrong.status_code == 422 and wrong.json["errors"][0] == {
        "field": "body", "code": "not_editable", "detail": "Ce type d'élément n'a pas ce champ."}


def test_banned_accounts_and_domains_write_hidden_content(client, make_user, moderator, session):
    troll = make_user(name="Troll")
    before = troll.post("/api/v1/reports", json=feature(title="Avant le bannissement")).json["id"]
    r = moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "user", "subject_id": troll.user_id, "action": "ban", "reason": "Spam répété"})
    assert r.json["banned"] is True
    created = troll.post("/api/v1/reports", json=feature(title="Après le bannissement"))
    assert created.status_code == 201  # the author is not told
    assert client.get(f"/api/v1/reports/{created.json['id']}").status_code == 404
    assert client.get(f"/api/v1/reports/{before}").status_code == 200  # the past stays
    said = troll.post(f"/api/v1/reports/{before}/comments", json={"body": "Encore moi"})
    assert said.status_code == 201
    assert client.get(f"/api/v1/reports/{before}/comments").json["comments"] == []
    assert moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "contribution", "subject_id": before, "action": "ban", "reason": "r"}).status_code == 409

    domain = troll.email.rpartition("@")[2]
    neighbour = make_user(name="Même domaine")  # same test domain as every fixture user
    assert moderator.put(f"/api/v1/moderation/domains/{domain.upper()}", json={"reason": "Ferme à spam"}).status_code == 204
    assert moderator.get("/api/v1/moderation/domains").json["domains"][0]["domain"] == domain
    hidden = neighbour.post("/api/v1/reports", json=feature(title="Domaine banni"))
    assert client.get(f"/api/v1/reports/{hidden.json['id']}").status_code == 404
    assert moderator.delete(f"/api/v1/moderation/domains/{domain}").status_code == 204
    shown = neighbour.post("/api/v1/reports", json=feature(title="Domaine rétabli"))
    assert client.get(f"/api/v1/reports/{shown.json['id']}").status_code == 200
    actions = [e["action"] for e in moderator.get("/api/v1/audit?limit=3").json["entries"]]
    assert actions == ["unban_domain", "ban_domain", "ban"]


def test_a_comment_hidden_by_flags_leaves_the_list(client, make_user):
    author = make_user(name="Auteur")
    rid = author.post("/api/v1/reports", json=feature(title="Banc cassé")).json["id"]
    cid = make_user(name="Grossier").post(f"/api/v1/reports/{rid}/comments", json={"body": "Insulte"}).json["id"]
    for n in range(3):
        flag(make_user(name=f"F{n}"), cid, "offensive", subject_type="comment")
    assert client.get(f"/api/v1/reports/{rid}/comments").json["comments"] == []


def test_the_audit_log_is_append_only_and_exports_as_csv(moderator, make_user, session):
    rid = make_user().post("/api/v1/reports", json=feature(title="À masquer")).json["id"]
    moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "contribution", "subject_id": rid, "action": "hide", "reason": "Doublon, \"exact\""})
    exported = moderator.get("/api/v1/audit.csv?limit=1")
    assert exported.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["id", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "reason", "details"]
    assert rows[1][3:8] == ["Modératrice", "hide", "contribution", str(rid), 'Doublon, "exact"']
    session.commit()
    for statement in ("UPDATE audit_log SET reason = 'rien'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with session.begin_nested():
                session.execute(text(statement))
    assert session.scalar(text("SELECT reason FROM audit_log WHERE subject_id = :s"), {"s": str(rid)}) == \
        'Doublon, "exact"'


def test_the_moderation_pages_are_for_moderators(client, make_user, session):
    assert client.get("/moderation").status_code == 302  # to the sign-in page
    resident = make_user(name="Curieuse")
    token = resident.headers["Authorization"].split()[1]
    session.execute(text("UPDATE api_tokens SET kind = 'session' WHERE token_hash = sha256(convert_to(:t, 'UTF8'))"),
                    {"t": token})
    session.commit()
    with client.session_transaction() as browser:
        browser["sid"] = token
    page = client.get("/moderation")
    assert page.status_code == 403 and "Accès refusé" in page.get_data(as_text=True)
    assert "Modération" not in page.get_data(as_text=True).split("<main")[0]  # no menu entry
    assert client.get("/moderation/audit").status_code == 403


def test_moderators_review_a_hidden_contribution_everyone_else_gets_a_404(client, make_user, moderator,
                                                                         session):
    author = make_user(name="Autrice")
    resident = make_user(name="Voisine")
    rid = author.post("/api/v1/reports", json=feature(title="Propos douteux")).json["id"]
    pid = author.post("/api/v1/proposals", json=feature(title="Idée douteuse", category="mobilite.velo")).json["id"]
    for kind, cid in (("report", rid), ("proposal", pid)):
        assert "hidden" not in moderator.get(f"/api/v1/{kind}s/{cid}").json["properties"]
        assert moderator.post("/api/v1/moderation/decisions", json={
            "subject_type": "contribution", "subject_id": cid, "action": "hide", "reason": "À vérifier"}
        ).status_code == 200

        read = moderator.get(f"/api/v1/{kind}s/{cid}")
        assert read.status_code == 200 and read.json["id"] == cid
        assert read.json["properties"]["hidden"] is True
        for who in (client, resident, author):  # the author too: hidden is hidden
            r = who.get(f"/api/v1/{kind}s/{cid}")
            assert r.status_code == 404 and r.json["code"] == "contribution_not_found"
    # reading is all a moderator does to it there: votes, comments and edits stay 404
    assert moderator.put(f"/api/v1/reports/{rid}/vote", json={"value": 1}).status_code == 404
    assert moderator.post(f"/api/v1/reports/{rid}/comments", json={"body": "Vu"}).status_code == 404
    assert author.patch(f"/api/v1/reports/{rid}", json={"properties": {"title": "Autre"}}).status_code == 404
    assert author.delete(f"/api/v1/reports/{rid}").status_code == 404

    page = browser(client, session, moderator).get(f"/c/{rid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Propos douteux" in html
    banner = html.split('id="moderation-banner"')[1].split("</p>")[0]
    assert "Hidden by moderation" in banner or "Masquée par la modération" in banner
    assert 'href="/moderation?' in banner
    assert 'id="comment-form"' not in html  # nothing to write on a hidden one
    for who in (client, browser(client, session, resident), browser(client, session, author)):
        gone = who.get(f"/c/{rid}")
        assert gone.status_code == 404 and "Propos douteux" not in gone.get_data(as_text=True)

    # restored: public again, no banner, no `hidden`
    moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "contribution", "subject_id": rid, "action": "restore", "reason": "Rien à redire"})
    assert "hidden" not in moderator.get(f"/api/v1/reports/{rid}").json["properties"]
    assert 'id="moderation-banner"' not in client.get(f"/c/{rid}").get_data(as_text=True)


def test_a_withdrawn_contribution_stays_a_404_for_moderators(client, make_user, moderator, session):
    author = make_user(name="Autrice")
    rid = author.post("/api/v1/reports", json=feature(title="Retirée puis masquée")).json["id"]
    moderator.post("/api/v1/moderation/decisions", json={
        "subject_type": "contribution", "subject_id": rid, "action": "hide", "reason": "Spam"})
    assert moderator.get(f"/api/v1/reports/{rid}").status_code == 200
    session.execute(text("UPDATE contributions SET withdrawn_at = now() WHERE id = :r"), {"r": rid})
    session.commit()
    assert moderator.get(f"/api/v1/reports/{rid}").status_code == 404
    assert browser(client, session, moderator).get(f"/c/{rid}").status_code == 404


def test_the_contribution_page_offers_to_report_its_authors_profile(client, make_user, session):
    author = make_user(name="Auteur signalable")
    rid = author.post("/api/v1/reports", json=feature(title="Avec un profil")).json["id"]
    link = f'/flag?subject_type=user&amp;subject_id={author.user_id}&amp;next=/c/{rid}'
    assert link in browser(client, session, make_user(name="Lectrice")).get(f"/c/{rid}").get_data(as_text=True)
    assert link not in browser(client, session, author).get(f"/c/{rid}").get_data(as_text=True)  # not one's own
    assert link not in client.get(f"/c/{rid}").get_data(as_text=True)  # signed in to flag
    flag_page = browser(client, session, make_user()).get(f"/flag?subject_type=user&subject_id={author.user_id}")
    assert flag_page.status_code == 200


def test_e_mails_name_what_was_moderated(client, make_user, moderator, session):
    author = make_user(name="Commentatrice")
    rid = make_user().post("/api/v1/reports", json=feature(title="Trottoir encombré")).json["id"]
    cid = author.post(f"/api/v1/reports/{rid}/comments", json={"body": "Quel abruti a garé ça"}).json["id"]
    for n in range(3):
        flag(make_user(name=f"G{n}"), cid, "offensive", subject_type="comment")
    subject, body = mails_to(session, author.email)[-1]
    # sent in French then English ("FR / EN"): the English half names the comment
    assert subject.endswith(" / Your comment is hidden until it is reviewed")
    assert "your comment “Quel abruti a garé ça”" in body
    assert "contribution" not in subject + body
    assert subject.startswith("[Cartagora] Votre commentaire est masqué")
    assert "commentaire" in body.split("\n\n")[0]

    decide = {"subject_type": "comment", "subject_id": cid, "reason": "Insulte"}
    moderator.post("/api/v1/moderation/decisions", json={**decide, "action": "restore"})
    assert mails_to(session, author.email)[-1][0].endswith(" / Your comment is visible again")
    moderator.post("/api/v1/moderation/decisions", json={**decide, "action": "hide"})
    subject, body = mails_to(session, author.email)[-1]
    assert subject.endswith(" / A moderator hid your comment") and "Insulte" in body
    moderator.post("/api/v1/moderation/edits", json={**decide, "body": "Qui a garé ça ?"})
    subject, body = mails_to(session, author.email)[-1]
    assert subject.endswith(" / A moderator edited your comment") and "Qui a garé ça ?" in body
    assert "commentaire" in subject.split(" / ")[0]

    r = moderator.post("/api/v1/moderation/edits", json={
        "subject_type": "user", "subject_id": author.user_id, "display_name": "Commentatrice 2",
        "reason": "Nom injurieux"})
    assert r.status_code == 200, r.json
    subject, body = mails_to(session, author.email)[-1]
    assert subject.endswith(" / A moderator edited your profile")
    assert "your public name to “Commentatrice 2”" in body and "Nom injurieux" in body
    assert "profil" in subject.split(" / ")[0]


FLAGGERS = 6


@pytest.fixture
def committed_people(app):
    """An author and FLAGGERS residents, committed: the race test's requests run on pooled
    connections of their own, outside the rolled-back `connection` (tests/test_races.py).
    Afterwards what they made is deleted, but for the audit log's entry: it is append-only."""
    from app.accounts.services import create_user, issue_token
    from app.db import db

    tag = uuid.uuid4().hex[:8]
    people = []
    with app.app_context():
        for n in range(FLAGGERS + 1):
            user = create_user(db.session, f"flag-race-{n}-{tag}@example.org", "a long enough password",
                               f"Flag race {n}", ("resident",))
            token, _ = issue_token(db.session, user, 1)
            people.append((user.id, user.email, {"Authorization": f"Bearer {token}"}))
        db.session.commit()
    yield people
    ids = [uid for uid, _, _ in people]
    with db.engine.begin() as conn:
        reports = conn.execute(text("SELECT id FROM contributions WHERE author_id = ANY(:u)"),
                               {"u": ids}).scalars().all()
        conn.execute(text("DELETE FROM outbox WHERE recipient = ANY(:e)"), {"e": [e for _, e, _ in people]})
        conn.execute(text("DELETE FROM flags WHERE user_id = ANY(:u)"), {"u": ids})
        conn.execute(text("DELETE FROM status_events WHERE contribution_id = ANY(:r)"), {"r": reports})
        conn.execute(text("DELETE FROM contributions WHERE id = ANY(:r)"), {"r": reports})
        conn.execute(text("DELETE FROM users WHERE id = ANY(:u)"), {"u": ids})


def test_flags_sent_at_once_hide_once_and_tell_the_author_once(app, committed_people):
    from tests.test_races import at_once, new_report, rows

    (_, author_email, author), *flaggers = committed_people
    hide_at = app.config["MODERATION_HIDE_AT"]
    assert FLAGGERS > hide_at
    rid = new_report(app, author, "Signalée de toutes parts")
    answers = at_once(app, [
        (lambda headers: lambda c: c.post("/api/v1/flags", json={
            "subject_type": "contribution", "subject_id": rid, "reason": "spam"}, headers=headers))(h)
        for _, _, h in flaggers])
    # the item's row lock counts the flags in turn: the hide_at-th hides it, the later ones
    # find nothing left to flag
    assert Counter(a.status_code for a in answers) == {201: hide_at, 404: FLAGGERS - hide_at}
    assert sorted((a.json["flags"], a.json["hidden"]) for a in answers if a.status_code == 201) == [
        (n, n == hide_at) for n in range(1, hide_at + 1)]
    assert rows("SELECT hidden FROM contributions WHERE id = :r", r=rid) == [(True,)]
    assert rows("SELECT count(*) FROM flags WHERE subject_type = 'contribution' AND subject_id = :r",
                r=rid) == [(hide_at,)]
    assert rows("""SELECT action, actor_id, details->>'flags' FROM audit_log
                   WHERE subject_type = 'contribution' AND subject_id = :r""", r=str(rid)) == [
        ("auto_hide", None, str(hide_at))]
    mails = rows("SELECT subject FROM outbox WHERE recipient = :e", e=author_email)
    assert len(mails) == 1 and mails[0][0].endswith(" / Your contribution is hidden until it is reviewed")

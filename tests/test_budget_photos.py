"""Photos of participatory-budget projects: the authors' before the vote, the city's of a
winner's delivery; re-encoded without metadata, served while a published project shows them,
at most 5 a project; the form on the project's page, and a drawn area on the submission form."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import text

from tests.test_budget import (  # noqa: F401  (its fixtures)
    admin,
    cycle,
    move_to,
    planner,
    residents,
    submitted,
)


def jpeg_with_gps(colour: int) -> bytes:
    img = Image.new("RGB", (80, 60), (colour * 37 % 256, colour * 11 % 256, 90))
    exif = Image.Exif()
    exif[0x8825] = {2: (48.0, 51.0, 30.0), 4: (2.0, 21.0, 0.0)}  # GPSInfo
    exif[0x010F] = "Téléphone de la porteuse"  # Make
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def fetch(client, url: str) -> tuple[int, bytes]:
    with client.get(url) as r:  # a file response: closed here
        return r.status_code, r.get_data()


def upload(api, project_id: int, data: bytes):
    return api.post(f"/api/v1/budget-projects/{project_id}/photos",
                    data={"details": "{}", "photo": (io.BytesIO(data), "photo.jpg")},
                    content_type="multipart/form-data")


def test_authors_add_photos_before_the_vote_and_planners_a_winners_delivery_photos(
        cycle, residents, planner, client, session, app):  # noqa: F811
    k = cycle("submission", year=2036)
    alice, bob = residents("Alice", "Bob")
    p = submitted(alice, k["id"])
    raw = jpeg_with_gps(10)
    r = upload(alice, p["id"], raw)
    assert r.status_code == 200, r.json
    (photo,) = r.json["properties"]["photos"]
    assert photo["stage"] == "project" and photo["url"] == f"/media/photos/{photo['sha256']}.jpg"
    status, data = fetch(client, photo["url"])
    assert status == 200
    image = Image.open(io.BytesIO(data))
    assert image.size == (80, 60) and not image.getexif()  # re-encoded: no GPS, no maker
    assert b"porteuse" not in data and data != raw
    assert fetch(client, photo["thumbnail_url"])[0] == 200
    # another resident may not; 5 at most; the same photo again changes nothing
    assert upload(bob, p["id"], jpeg_with_gps(11)).status_code == 403
    assert upload(alice, p["id"], raw).json["properties"]["photos"] == [photo]
    for n in range(4):
        assert upload(alice, p["id"], jpeg_with_gps(20 + n)).status_code == 200
    r = upload(alice, p["id"], jpeg_with_gps(30))
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "too_many_project_photos"
    assert session.scalar(text("SELECT count(*) FROM budget_project_photos WHERE project_id = :p"),
                          {"p": p["id"]}) == 5
    r = upload(alice, p["id"], b"not an image")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "photo"
    # removed by its author
    r = alice.delete(f"/api/v1/budget-projects/{p['id']}/photos/{photo['sha256']}")
    assert r.status_code == 200 and photo not in r.json["properties"]["photos"]
    assert alice.delete(f"/api/v1/budget-projects/{p['id']}/photos/{photo['sha256']}").json["code"] == \
        "photo_not_found"
    assert fetch(client, photo["url"])[0] == 404  # no published project shows it any more
    # after the vote the author can no longer add; a winner's delivery photos are the city's
    move_to(session, k["id"], "results")
    assert upload(alice, p["id"], jpeg_with_gps(40)).json["code"] == "budget_phase"
    session.execute(text("UPDATE budget_projects SET status = 'won', feasibility_cost_cents = 100 WHERE id = :p"),
                    {"p": p["id"]})
    session.commit()
    assert upload(alice, p["id"], jpeg_with_gps(41)).status_code == 403
    r = upload(planner, p["id"], jpeg_with_gps(42))
    assert r.status_code == 200
    assert [x["stage"] for x in r.json["properties"]["photos"]] == ["project"] * 4 + ["delivery"]
    assert session.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'budget.photo.add' "
                               "AND subject_id = :p"), {"p": str(p["id"])}) == 1


def test_the_project_page_takes_and_shows_photos_and_the_form_takes_a_drawn_area(
        app, cycle, residents, client, session):  # noqa: F811
    import json
    import re

    from tests.conftest import browser

    k = cycle("submission", year=2037)
    (alice,) = residents("Alice")
    page = browser(client, session, alice)
    html = page.get(f"/budget/{k['year']}/submit").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    # a block of the rue Oberkampf (11e), drawn on the map
    ring = [[2.3785, 48.8630], [2.3805, 48.8630], [2.3805, 48.8640], [2.3785, 48.8640], [2.3785, 48.8630]]
    r = page.post(f"/budget/{k['year']}/submit", data={
        "csrf_token": token, "title": "Une place plus verte", "theme": "vegetalisation",
        "geometry": json.dumps({"type": "Polygon", "coordinates": [ring]})})
    assert r.status_code == 302, r.get_data(as_text=True)
    pid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert session.execute(text("SELECT GeometryType(geom), ST_NPoints(geom), arrondissement_id FROM budget_projects "
                                "WHERE id = :p"), {"p": pid}).one() == ("POLYGON", 5, 11)
    r = page.post(f"/budget/{k['year']}/submit", data={"csrf_token": token, "title": "Un tracé cassé",
                                                        "theme": "vegetalisation", "geometry": "{not json"})
    assert r.status_code == 422 and 'id="form-errors"' in r.get_data(as_text=True)
    # the page offers its author the photo form; the photo then shows in the gallery
    html = page.get(f"/budget/projects/{pid}").get_data(as_text=True)
    assert 'id="photo-form"' in html
    r = page.post(f"/budget/projects/{pid}/photos", data={"csrf_token": token,
                                                          "photo": (io.BytesIO(jpeg_with_gps(3)), "a.jpg")},
                  content_type="multipart/form-data")
    assert r.status_code == 302
    (sha,) = session.scalars(text("SELECT sha256 FROM budget_project_photos WHERE project_id = :p"), {"p": pid})
    html = page.get(f"/budget/projects/{pid}").get_data(as_text=True)
    assert f'src="/media/photos/{sha}.thumb.jpg"' in html and "Photo 1 sur 1 : Une place plus verte" in html
    # others see the photo, not the form
    assert 'id="photo-form"' not in client.get(f"/budget/projects/{pid}").get_data(as_text=True)
    r = page.post(f"/budget/projects/{pid}/photos/{sha}/remove", data={"csrf_token": token})
    assert r.status_code == 302
    assert session.scalar(text("SELECT count(*) FROM budget_project_photos WHERE project_id = :p"), {"p": pid}) == 0
    # a refused photo (the sixth) is shown as an error on the page and leaves no file behind
    for n in range(5):
        assert upload(alice, pid, jpeg_with_gps(50 + n)).status_code == 200
    media = Path(app.config["MEDIA_DIR"]) / "photos"
    files = sorted(media.rglob("*.jpg"))
    r = page.post(f"/budget/projects/{pid}/photos", data={"csrf_token": token,
                                                          "photo": (io.BytesIO(jpeg_with_gps(60)), "f.jpg")},
                  content_type="multipart/form-data")
    assert r.status_code == 302
    assert "Au plus 5 photos ici" in page.get(f"/budget/projects/{pid}").get_data(as_text=True)
    assert sorted(media.rglob("*.jpg")) == files
    assert session.scalar(text("SELECT count(*) FROM budget_project_photos WHERE project_id = :p"), {"p": pid}) == 5

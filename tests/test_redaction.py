"""Photo redaction: a moderator blurs a region of a resident's photo; the blurred copy replaces
it, the original stops being public and is kept for staff (moderators, agents covering the
report), and the audit log says who blurred what and why."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat
from sqlalchemy import text

from app.contributions import photos
from tests.conftest import browser, feature
from tests.test_photos import assert_only_pixels

REGION = {"x": 0.25, "y": 0.25, "w": 0.25, "h": 0.25}


def detailed_jpeg(seed: int = 0, size=(1200, 800)) -> bytes:
    """A photo with fine detail everywhere (an 8-px checkerboard, some text), as a phone would
    send it (with EXIF): blurring shows, and so would a change outside."""
    width, height = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(0, height, 8):
        for x in range(0, width, 8):
            dark = (x // 8 + y // 8) % 2
            draw.rectangle([x, y, x + 7, y + 7], fill=(20, 20, 60 + seed) if dark else (235, 235, 200))
    for i in range(6):
        draw.text((310 + 40 * i, 220 + 30 * i), "AB-123-CD", fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def post_with_photo(api, data: bytes, **props):
    r = api.post("/api/v1/reports", data={
        "feature": json.dumps(feature(**props)), "photos": [(io.BytesIO(data), "IMG_0001.jpg")]},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    photo = r.json["properties"]["photos"][0]
    return r.json["id"], photo["url"].rsplit("/", 1)[1].removesuffix(".jpg")


def fetch(client, url: str, headers=None):
    with client.get(url, headers=headers or {}) as r:
        return r.status_code, r.data, dict(r.headers)


def difference(a: bytes, b: bytes, box) -> float:
    """Mean absolute difference of the pixels of `box` (fractions), 0–255."""
    one, two = Image.open(io.BytesIO(a)).convert("L"), Image.open(io.BytesIO(b)).convert("L")
    assert one.size == two.size
    w, h = one.size
    crop = (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
    return ImageStat.Stat(ImageChops.difference(one.crop(crop), two.crop(crop))).mean[0]


def redact(who, contribution_id, sha256, regions=(REGION,), reason="Plaque lisible"):
    return who.post("/api/v1/moderation/photos", json={
        "contribution_id": contribution_id, "sha256": sha256, "regions": list(regions), "reason": reason})


@pytest.fixture
def moderator(make_user):
    return make_user(("moderator",), name="Modératrice")


def agent(make_user, session, arrondissement: int):
    """An agent for graffiti in one arrondissement (the reports here are in the 4e)."""
    api = make_user(("agent",), name=f"Agent {arrondissement}e")
    session.execute(text("""INSERT INTO agent_scopes (user_id, service_id, arrondissement_id)
        SELECT :u, id, :a FROM services WHERE code = 'graffitis'"""),
                    {"u": api.user_id, "a": arrondissement})
    session.commit()
    return api


def test_a_moderator_blurs_a_region_and_the_original_is_kept_for_staff(app, client, resident, moderator,
                                                                      make_user, session):
    rid, sha = post_with_photo(resident, detailed_jpeg(), title="Voiture garée sur le trottoir")
    status, before, _ = fetch(client, f"/media/photos/{sha}.jpg")
    assert status == 200

    r = redact(moderator, rid, sha)
    assert r.status_code == 201, r.json
    new = r.json["sha256"]
    assert r.json == {"url": f"/media/photos/{new}.jpg", "thumbnail_url": f"/media/photos/{new}.thumb.jpg",
                      "sha256": new, "original_sha256": sha, "width": 1200, "height": 800}
    assert new != sha

    # the public sees the blurred copy only, in the Feature as in the files
    assert [p["url"] for p in client.get(f"/api/v1/reports/{rid}").json["properties"]["photos"]] == \
        [r.json["url"]]
    status, after, _ = fetch(client, r.json["url"])
    assert status == 200
    assert fetch(client, r.json["thumbnail_url"])[0] == 200
    assert fetch(client, f"/media/photos/{sha}.jpg")[0] == 404
    assert fetch(client, f"/media/photos/{sha}.thumb.jpg")[0] == 404
    assert_only_pixels(after)
    thumb = fetch(client, r.json["thumbnail_url"])[1]
    assert_only_pixels(thumb)
    assert max(Image.open(io.BytesIO(thumb)).size) == photos.THUMB_SIDE

    # inside the region the detail is gone; outside, only the re-encoding's noise
    inside = (REGION["x"], REGION["y"], REGION["x"] + REGION["w"], REGION["y"] + REGION["h"])
    assert difference(before, after, inside) > 80
    for outside in ((0, 0, 1, 0.24), (0, 0.51, 1, 1), (0, 0, 0.24, 1), (0.51, 0, 1, 1)):
        assert difference(before, after, outside) < 1, outside
    blurred = Image.open(io.BytesIO(after)).convert("L").crop((330, 230, 570, 370))
    assert ImageStat.Stat(blurred).stddev[0] < 12  # no checkerboard, no letters left

    # the original, for staff only, never cached
    media = app.config["MEDIA_DIR"]
    assert photos.paths(media, sha)[0].exists()
    original_url = f"/api/v1/moderation/photos/{sha}/original"
    in_scope, out_of_scope = agent(make_user, session, 4), agent(make_user, session, 11)
    for who in (moderator, in_scope):
        with who.get(original_url) as got:
            assert got.status_code == 200 and got.content_type == "image/jpeg"
            assert got.data == before
            assert got.headers["Cache-Control"] == "private, no-store"
    refused = out_of_scope.get(original_url)
    assert refused.status_code == 403 and refused.json["code"] == "out_of_scope"
    assert resident.get(original_url).status_code == 403
    anonymous = client.get(original_url)
    assert anonymous.status_code == 401 and anonymous.content_type == "application/problem+json"
    for unknown in (new, "0" * 64, "not-a-hash"):  # the blurred copy is nobody's original
        got = moderator.get(f"/api/v1/moderation/photos/{unknown}/original")
        assert got.status_code == 404 and got.json["code"] == "not_found"

    # the audit log and the redactions table
    entry = moderator.get(f"/api/v1/audit?action=photo.redact&subject_id={rid}").json["entries"][0]
    assert entry["reason"] == "Plaque lisible" and entry["actor"]["display_name"] == "Modératrice"
    assert entry["details"] == {"original": sha, "redacted": new, "regions": [REGION]}
    row = session.execute(text("SELECT original_sha256, redacted_sha256, regions, moderator_id "
                               "FROM photo_redactions WHERE contribution_id = :c"), {"c": rid}).one()
    assert tuple(row) == (sha, new, [REGION], moderator.user_id)
    assert session.scalar(text("SELECT count(*) FROM photos WHERE contribution_id = :c"), {"c": rid}) == 1


def test_invalid_regions_are_field_errors(resident, moderator):
    rid, sha = post_with_photo(resident, detailed_jpeg(1))
    cases = [
        ([{**REGION, "x": -0.1}], "regions[0].x", "out_of_range"),
        ([{**REGION, "y": 1}], "regions[0].y", "out_of_range"),
        ([{**REGION, "w": 0}], "regions[0].w", "out_of_range"),
        ([{**REGION, "h": 1.5}], "regions[0].h", "out_of_range"),
        ([{**REGION, "x": 0.8, "w": 0.5}], "regions[0].w", "out_of_range"),  # past the right edge
        ([REGION, {**REGION, "y": 0.9, "h": 0.2}], "regions[1].h", "out_of_range"),  # past the bottom
        ([{"x": 0.1, "y": 0.1, "w": 0.1}], "regions[0].h", "required"),
        ([{**REGION, "w": "large"}], "regions[0].w", "not_a_number"),
        ([{**REGION, "z": 1}], "regions[0].z", "unknown_field"),
        ([REGION] * 11, "regions", "too_many_items"),
        ([], "regions", "too_few_items"),
    ]
    for regions, field, code in cases:
        r = redact(moderator, rid, sha, regions)
        assert r.status_code == 422, (regions, r.json)
        assert (field, code) in [(e["field"], e["code"]) for e in r.json["errors"]], (regions, r.json)
    r = redact(moderator, rid, "ABC")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "sha256"
    r = redact(moderator, rid, sha, reason=" ")
    assert r.status_code == 422 and r.json["errors"][0] == {
        "field": "reason", "code": "required", "detail": "Ce champ est obligatoire."}
    # the edge itself is inside; nothing was changed by the refusals
    assert redact(moderator, rid, sha, [{"x": 0.5, "y": 0.75, "w": 0.5, "h": 0.25}]).status_code == 201


def test_a_photo_of_another_contribution_or_nobody_is_not_found(resident, moderator, client):
    first, first_sha = post_with_photo(resident, detailed_jpeg(2))
    second, second_sha = post_with_photo(resident, detailed_jpeg(3), title="Autre voiture")
    for contribution_id, sha in ((first, second_sha), (second, first_sha), (2**31 - 1, first_sha),
                                 (2**40, first_sha)):
        r = redact(moderator, contribution_id, sha)
        assert r.status_code == 404 and r.json["code"] == "not_found", r.json
    assert resident.delete(f"/api/v1/reports/{second}").status_code == 204
    assert redact(moderator, second, second_sha).status_code == 404  # withdrawn
    # only moderators redact
    assert redact(resident, first, first_sha).status_code == 403
    anonymous = client.post("/api/v1/moderation/photos", json={
        "contribution_id": first, "sha256": first_sha, "regions": [REGION], "reason": "x"})
    assert anonymous.status_code == 401
    assert fetch(client, f"/media/photos/{first_sha}.jpg")[0] == 200  # untouched


def test_a_photo_another_visible_contribution_shows_stays_public(resident, moderator, client):
    same = detailed_jpeg(4)
    first, sha = post_with_photo(resident, same)
    second, again = post_with_photo(resident, same, title="Le même cliché")
    assert sha == again
    assert redact(moderator, first, sha).status_code == 201
    assert fetch(client, f"/media/photos/{sha}.jpg")[0] == 200  # the second one still shows it
    assert resident.delete(f"/api/v1/reports/{second}").status_code == 204
    assert fetch(client, f"/media/photos/{sha}.jpg")[0] == 404


def test_a_hidden_contribution_s_photo_can_be_redacted_then_restored(resident, moderator, client):
    rid, sha = post_with_photo(resident, detailed_jpeg(5))
    hide = {"subject_type": "contribution", "subject_id": rid, "reason": "Visage"}
    assert moderator.post("/api/v1/moderation/decisions", json={**hide, "action": "hide"}).status_code == 200
    r = redact(moderator, rid, sha, [{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.3}, REGION])
    assert r.status_code == 201
    assert fetch(client, r.json["url"])[0] == 404  # hidden: nothing public yet
    assert moderator.post("/api/v1/moderation/decisions", json={**hide, "action": "restore"}).status_code == 200
    assert fetch(client, r.json["url"])[0] == 200 and fetch(client, f"/media/photos/{sha}.jpg")[0] == 404


def test_redact_is_a_pure_function_of_the_pixels():
    data = photos.process(detailed_jpeg(6, size=(640, 480)), 10**7).data
    one = photos.redact(data, [REGION])
    assert one.sha256 == photos.redact(data, [dict(REGION)]).sha256  # the same twice
    assert (one.width, one.height) == (640, 480)
    assert_only_pixels(one.data)
    assert_only_pixels(one.thumbnail)
    assert max(Image.open(io.BytesIO(one.thumbnail)).size) == photos.THUMB_SIDE
    # a region of a single pixel's width still blurs something, and one at the edge stays inside
    tiny = photos.redact(data, [{"x": 0.999, "y": 0.999, "w": 0.001, "h": 0.001}])
    assert tiny.sha256 != one.sha256


# ---- the page -------------------------------------------------------------------------------


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_page_blurs_a_region_typed_in_percent(client, make_user, resident, moderator, session):
    rid, sha = post_with_photo(resident, detailed_jpeg(7), title="Visage reconnaissable")
    flagger = make_user(name="Voisin")
    assert flagger.post("/api/v1/flags", json={"subject_type": "contribution", "subject_id": rid,
                                               "reason": "personal_data"}).status_code == 201
    page = browser(client, session, moderator)
    queue = page.get("/moderation").get_data(as_text=True)
    link = f"/moderation/photos/{rid}/{sha}"
    assert f'href="{link}"' in queue

    form = page.get(link)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and f'src="{link}/photo.jpg"' in html and "js/redact.js" in html
    with page.get(f"{link}/photo.jpg") as image:
        assert image.status_code == 200 and image.headers["Cache-Control"] == "private, no-store"
        assert image.data == fetch(client, f"/media/photos/{sha}.jpg")[1]

    # refused: shown on the form (status 200), bounds in percent, nothing changed
    values = {"csrf_token": csrf(html), "x": "80", "y": "10", "width": "40", "height": "abc", "reason": ""}
    again = page.post(link, data=values)
    shown = again.get_data(as_text=True)
    assert again.status_code == 200
    assert "Un nombre est attendu." in shown and "Ce champ est obligatoire." in shown
    assert 'value="80"' in shown  # what was typed stays
    refused = page.post(link, data={**values, "height": "10", "y": "120", "reason": "Visage"})
    assert refused.status_code == 200 and "Valeur hors limites (…–100)." in refused.get_data(as_text=True)
    refused = page.post(link, data={**values, "height": "10", "reason": "Visage"})
    assert refused.status_code == 200
    assert "Valeur hors limites (0–20)." in refused.get_data(as_text=True)  # past the right edge
    assert client.get(f"/api/v1/reports/{rid}").json["properties"]["photos"][0]["url"].endswith(f"{sha}.jpg")

    done = page.post(link, data={**values, "x": "12,5", "width": "25", "height": "30", "reason": "Visage"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/moderation")
    assert 'class="form-notice"' in page.get("/moderation").get_data(as_text=True)
    photo = client.get(f"/api/v1/reports/{rid}").json["properties"]["photos"][0]
    assert not photo["url"].endswith(f"{sha}.jpg")
    regions = moderator.get(f"/api/v1/audit?action=photo.redact&subject_id={rid}").json["entries"][0]["details"]
    assert regions["regions"] == [{"x": 0.125, "y": 0.1, "w": 0.25, "h": 0.3}]
    assert page.get(link).status_code == 404  # that photo is no longer the contribution's


def test_the_page_is_for_moderators(client, make_user, resident, session):
    rid, sha = post_with_photo(resident, detailed_jpeg(8))
    link = f"/moderation/photos/{rid}/{sha}"
    assert client.get(link).status_code == 302  # to the sign-in page
    for who in (resident, make_user(("agent",))):
        page = browser(client, session, who)
        assert page.get(link).status_code == 403 and page.get(f"{link}/photo.jpg").status_code == 403
    page = browser(client, session, make_user(("moderator",)))
    assert page.get(f"/moderation/photos/{rid}/{'0' * 64}").status_code == 404
    assert page.get(f"/moderation/photos/{rid}/xyz").status_code == 404

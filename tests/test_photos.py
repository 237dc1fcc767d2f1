"""Photos: verified by decoding, re-encoded without metadata, committed with their row."""

import io
import json

from PIL import Image
from sqlalchemy import func, select

from app.contributions.models import Contribution, Photo
from tests.conftest import feature


def jpeg_with_gps(size=(1200, 800), color=(200, 30, 30)) -> bytes:
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 10.8)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (2.0, 20.0, 59.6)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the fixture really has GPS
    return data


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 255, 128)).save(out, "PNG")
    return out.getvalue()


def post_with_photos(api, files, **props):
    data = {"feature": json.dumps(feature(**props)),
            "photos": [(io.BytesIO(b), name) for b, name in files]}
    return api.post("/api/v1/reports", data=data, content_type="multipart/form-data")


def test_upload_strips_exif_and_makes_a_thumbnail(app, resident, client, session):
    r = post_with_photos(resident, [(jpeg_with_gps(), "IMG_0001.jpg"), (png_bytes(), "plan.png")])
    assert r.status_code == 201, r.json
    photos = r.json["properties"]["photos"]
    assert r.json["properties"]["photos_count"] == 2 and len(photos) == 2
    assert (photos[0]["width"], photos[0]["height"]) == (1200, 800)
    with client.get(photos[0]["url"]) as full:
        assert full.status_code == 200 and full.content_type == "image/jpeg"
        full_data = full.data
    img = Image.open(io.BytesIO(full_data))
    assert not img.getexif() and "exif" not in img.info
    assert b"PhoneMaker" not in full_data
    with client.get(photos[0]["thumbnail_url"]) as resp:
        thumb = Image.open(io.BytesIO(resp.data))
    assert max(thumb.size) == 400
    sha = session.scalars(select(Photo.sha256).where(Photo.contribution_id == r.json["id"])).all()
    assert all(len(s) == 64 for s in sha)
    assert (app.config["MEDIA_DIR"] / "photos" / sha[0][:2] / f"{sha[0]}.jpg").exists()


def test_bad_photo_writes_nothing(app, resident, session):
    before_rows = session.scalar(select(func.count()).select_from(Contribution))
    before_files = set((app.config["MEDIA_DIR"]).rglob("*.jpg"))
    good = jpeg_with_gps(color=(1, 2, 3))
    r = post_with_photos(resident, [(good, "ok.jpg"), (b"GIF89a not really", "fake.jpg")])
    assert r.status_code == 422
    assert r.json["errors"] == [{"field": "photos[1]", "code": "photo_unreadable",
                                 "detail": r.json["errors"][0]["detail"]}]
    truncated = jpeg_with_gps()[:2000]
    r = post_with_photos(resident, [(truncated, "cut.jpg")])
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "photo_unreadable"
    assert session.scalar(select(func.count()).select_from(Contribution)) == before_rows
    assert set(app.config["MEDIA_DIR"].rglob("*.jpg")) == before_files


def test_rollback_after_photos_are_written_removes_the_files(app, resident, session, monkeypatch):
    """Files are written before the commit; if the transaction fails they must go too."""
    from app.contributions import queries

    written = []

    def fail(*args, **kwargs):  # after the row and the files, before the commit
        written.extend(set(app.config["MEDIA_DIR"].rglob("*.jpg")) - before)
        raise RuntimeError("database went away")

    monkeypatch.setattr(queries, "feature_text", fail)
    before = set(app.config["MEDIA_DIR"].rglob("*.jpg"))
    app.testing = False
    try:
        r = post_with_photos(resident, [(jpeg_with_gps(color=(9, 9, 9)), "x.jpg")], title="Jamais écrit")
    finally:
        app.testing = True
    assert r.status_code == 500 and r.json["code"] == "internal_error"
    assert len(written) == 2  # the photo and its thumbnail were on disk
    assert set(app.config["MEDIA_DIR"].rglob("*.jpg")) == before
    assert session.scalar(select(func.count()).select_from(Contribution).where(
        Contribution.title == "Jamais écrit")) == 0


def test_at_most_five_photos(resident):
    files = [(jpeg_with_gps(size=(64, 64), color=(i, i, i)), f"{i}.jpg") for i in range(6)]
    r = post_with_photos(resident, files)
    assert r.status_code == 422 and r.json["code"] == "too_many_photos"


def test_photo_over_10_mb_is_refused(app, resident):
    app.config["PHOTO_MAX_BYTES"] = 50_000
    try:
        noisy = Image.effect_noise((200, 200), 100).convert("RGB")
        out = io.BytesIO()
        noisy.save(out, "PNG")
        assert len(out.getvalue()) > 50_000
        r = post_with_photos(resident, [(out.getvalue(), "big.png")])
    finally:
        app.config["PHOTO_MAX_BYTES"] = 10 * 1024 * 1024
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "photo_too_large"


def test_add_photo_later_by_patch(resident, make_report):
    report = make_report()
    data = {"feature": json.dumps({"type": "Feature", "properties": {}}),
            "photos": [(io.BytesIO(jpeg_with_gps(size=(100, 100))), "later.jpg")]}
    r = resident.patch(f"/api/v1/reports/{report['id']}", data=data, content_type="multipart/form-data")
    assert r.status_code == 200, r.json
    assert r.json["properties"]["photos_count"] == 1


def test_a_failure_while_writing_photos_leaves_no_file(app, resident, session, monkeypatch):
    """attach_photos removes the files it wrote itself when it fails half-way."""
    from app.contributions import photos

    original, calls = photos.store, []

    def store_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(photos, "store", store_then_fail)
    before = set(app.config["MEDIA_DIR"].rglob("*.jpg"))
    app.testing = False
    try:
        r = post_with_photos(resident, [(jpeg_with_gps(color=(7, 7, 7)), "a.jpg"),
                                        (jpeg_with_gps(color=(8, 8, 8)), "b.jpg")],
                             title="Disque plein")
    finally:
        app.testing = True
    assert r.status_code == 500 and len(calls) == 2
    assert set(app.config["MEDIA_DIR"].rglob("*.jpg")) == before
    assert session.scalar(select(func.count()).select_from(Contribution).where(
        Contribution.title == "Disque plein")) == 0


def test_photo_paths_are_problems_when_nothing_is_there(client):
    for name in ("nope.jpg", "a" * 64 + ".png", "f" * 64 + ".jpg", "f" * 64 + ".thumb.jpg"):
        r = client.get(f"/media/photos/{name}", headers={"Accept": "text/html"})
        assert r.status_code == 404 and r.content_type == "application/problem+json", name
        assert r.json["code"] == "not_found"


def test_a_photo_is_cacheable(resident, client):
    r = post_with_photos(resident, [(png_bytes(), "p.png")])
    with client.get(r.json["properties"]["photos"][0]["url"]) as photo:
        assert photo.status_code == 200 and "max-age=31536000" in photo.headers["Cache-Control"]
        assert photo.headers["ETag"]

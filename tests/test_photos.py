"""Photos: verified by decoding, re-encoded without metadata, committed with their row."""

import io
import json
import time
import zlib

import pytest
from PIL import Image, ImageCms, JpegImagePlugin
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import func, select, text

from app.contributions import photos
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




# ---- nothing but pixels ---------------------------------------------------------------------

COMMENT = "owner: Jean Dupont, phone 0612345678"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
       b'22-rdf-syntax-ns#"><rdf:Description>secret-xmp-creator</rdf:Description></rdf:RDF>'
       b'</x:xmpmeta>')
# what must not reach the stored files: the comment, the EXIF maker, the XMP, PNG texts, and
# "acsp", the signature every ICC profile carries
SECRETS = (b"Jean Dupont", b"0612345678", b"PhoneMaker", b"secret-xmp", b"secret-itxt",
           b"secret-ztxt", b"acsp")
METADATA_KEYS = {"comment", "exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "Comment",
                 "Description", "Author", "mp", "mpinfo"}


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_primaries_profile() -> bytes:
    """sRGB with its red and green primaries swapped: a red pixel tagged with it is green."""
    icc = bytearray(srgb_profile())
    swap = {b"rXYZ": b"gXYZ", b"gXYZ": b"rXYZ"}
    for i in range(int.from_bytes(icc[128:132], "big")):  # the tag table
        at = 132 + 12 * i
        icc[at:at + 4] = swap.get(bytes(icc[at:at + 4]), bytes(icc[at:at + 4]))
    return bytes(icc)


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 10.8)
    return exif


def jpeg_with_everything() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(
        out, "JPEG", comment=COMMENT.encode(), exif=gps_exif(), xmp=XMP, icc_profile=srgb_profile())
    return out.getvalue()


def png_with_everything() -> bytes:
    info = PngInfo()
    info.add_text("Comment", COMMENT)
    info.add_text("comment", COMMENT)  # Pillow reads it into info["comment"], as a JPEG's COM
    info.add_itxt("Description", "secret-itxt", lang="fr", tkey="Description")
    info.add_text("Author", "secret-ztxt " * 20, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(
        out, "PNG", pnginfo=info, exif=gps_exif(), icc_profile=srgb_profile())
    return out.getvalue()


def webp_with_everything() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(
        out, "WEBP", exif=gps_exif(), xmp=XMP, icc_profile=srgb_profile())
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's segments, from SOI to the start of the image data (SOS)."""
    assert data[:2] == b"\xff\xd8"
    at, markers = 2, []
    while True:
        assert data[at] == 0xFF, at
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")


def assert_only_pixels(data: bytes):
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert not set(img.info) & METADATA_KEYS, img.info.keys()
    assert not img.getexif()
    for secret in SECRETS:
        assert secret not in data, secret
    markers = jpeg_segments(data)
    # APP0 (JFIF) only: no APP1 (EXIF, XMP), APP2 (ICC, MPF), other APPn, nor COM
    assert [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE] == []
    assert data.endswith(b"\xff\xd9")


@pytest.mark.parametrize("make", [jpeg_with_everything, png_with_everything, webp_with_everything])
def test_no_metadata_survives_in_the_photo_or_its_thumbnail(make):
    raw = make()
    source = Image.open(io.BytesIO(raw))
    assert source.getexif() and {"icc_profile"} <= set(source.info)  # the fixture carries them
    assert COMMENT.encode() in raw or b"secret-xmp" in raw
    photo = photos.process(raw, 10_000_000)
    assert_only_pixels(photo.data)
    assert_only_pixels(photo.thumbnail)
    assert Image.open(io.BytesIO(photo.data)).getpixel((150, 100)) == pytest.approx(
        (200, 30, 30), abs=4)


def test_orientation_is_applied_to_the_pixels():
    img = Image.new("RGB", (3000, 2000), (250, 250, 250))
    img.paste((0, 0, 0), (0, 0, 1000, 1000))  # a black square at the top left
    exif = Image.Exif()
    exif[0x0112] = 6  # to be shown turned a quarter clockwise
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    photo = photos.process(out.getvalue(), 10_000_000)
    assert_only_pixels(photo.data)
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.width < stored.height == photos.MAX_SIDE
    assert stored.getpixel((stored.width - 10, 10))[0] < 30  # now at the top right
    assert stored.getpixel((10, 10))[0] > 220


@pytest.mark.parametrize("mode", ["P", "P-transparent", "LA", "L", "I;16", "CMYK", "1"])
def test_every_mode_becomes_rgb(mode):
    img = Image.new("RGBA", (64, 48), (200, 30, 30, 255))
    img = Image.new("I;16", img.size, 30000) if mode == "I;16" else img.convert(mode.split("-")[0])
    out = io.BytesIO()
    img.save(out, "JPEG" if mode == "CMYK" else "PNG",
             **({"transparency": 0} if mode == "P-transparent" else {}))
    photo = photos.process(out.getvalue(), 10_000_000)
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.mode == "RGB" and stored.size == (64, 48)


def test_a_colour_profile_is_applied_to_the_pixels_then_dropped():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 0, 0)).save(out, "PNG", icc_profile=swapped_primaries_profile())
    photo = photos.process(out.getvalue(), 10_000_000)
    assert_only_pixels(photo.data)
    r, g, b = Image.open(io.BytesIO(photo.data)).getpixel((32, 32))
    assert g > 200 and r < 60 and b < 60  # shown as the profile says: green


def test_a_broken_colour_profile_is_ignored():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 0, 0)).save(out, "JPEG", icc_profile=b"not a profile" * 20)
    photo = photos.process(out.getvalue(), 10_000_000)
    assert_only_pixels(photo.data)
    assert Image.open(io.BytesIO(photo.data)).getpixel((32, 32)) == pytest.approx((255, 0, 0), abs=4)


def test_a_multi_picture_jpeg_keeps_its_first_picture():
    first, second = Image.new("RGB", (320, 240), (10, 120, 200)), Image.new("RGB", (640, 480), "yellow")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    photo = photos.process(out.getvalue(), 10_000_000)
    assert (photo.width, photo.height) == (320, 240)
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.size == (320, 240) and stored.getpixel((160, 120)) == pytest.approx((10, 120, 200), abs=4)
    assert_only_pixels(photo.data)


def test_a_multi_picture_jpeg_is_accepted_by_the_api(resident, client):
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 120, 200)).save(
        out, "MPO", save_all=True, append_images=[Image.new("RGB", (32, 24))])
    r = post_with_photos(resident, [(out.getvalue(), "IMG_0002.jpg")])
    assert r.status_code == 201, r.json
    assert (r.json["properties"]["photos"][0]["width"], r.json["properties"]["photos"][0]["height"]) == (320, 240)


# ---- bounded decoding -----------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header declaring this size, with a token of image data: nothing to decode."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF) is rewritten to declare this size."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


# (size, with Pillow's process-wide limit lifted): the check must not rest on that setting;
# lifted only for sizes whose decoding would not exhaust the test machine's memory
TOO_LARGE = [((100_000, 100_000), False), ((8000, 7000), False), ((8000, 7000), True)]


@pytest.mark.parametrize("declaring", [png_declaring, jpeg_declaring])
@pytest.mark.parametrize(("size", "lifted"), TOO_LARGE, ids=["10-Gpx", "56-Mpx", "56-Mpx-lifted"])
def test_an_image_declared_too_large_is_refused_before_decoding(declaring, size, lifted, monkeypatch):
    raw = declaring(min(size[0], 65_000), min(size[1], 65_000))  # a JPEG side has 16 bits
    if lifted:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    started = time.perf_counter()
    with pytest.raises(photos.PhotoRejected) as refused:
        photos.process(raw, 10_000_000)
    assert refused.value.code == "photo_unreadable"
    assert time.perf_counter() - started < 0.2


def test_a_huge_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    scales = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = draft(self, mode, size)
        if result:  # it acts once, before decoding
            scales.append(self.decoderconfig[0])
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = io.BytesIO()
    Image.linear_gradient("L").resize((6000, 4000)).convert("RGB").save(out, "JPEG")
    photo = photos.process(out.getvalue(), 10_000_000)
    assert scales == [2]  # decoded at 3000×2000, then resampled
    assert photo.width == photos.MAX_SIDE and abs(photo.height - photos.MAX_SIDE * 2 / 3) < 1
    small = io.BytesIO()
    Image.new("RGB", (4000, 300)).save(small, "JPEG")
    assert photos.process(small.getvalue(), 10_000_000).width == photos.MAX_SIDE
    assert scales == [2, 1]  # not much bigger than what is kept: decoded in full


# ---- serving: only while a visible contribution uses the photo ------------------------------


def urls(r) -> tuple[str, str]:
    photo = r.json["properties"]["photos"][0]
    return photo["url"], photo["thumbnail_url"]


def statuses(client, *paths, **headers) -> list[int]:
    out = []
    for path in paths:
        with client.get(path, headers=headers) as resp:
            out.append(resp.status_code)
    return out


def test_a_photo_is_cached_briefly_and_revalidated(resident, client):
    r = post_with_photos(resident, [(png_bytes(), "p.png")])
    url, thumb_url = urls(r)
    with client.get(url) as photo:
        assert photo.status_code == 200 and photo.content_type == "image/jpeg"
        cache = photo.headers["Cache-Control"]
        assert "no-cache" in cache and "public" in cache and "31536000" not in cache
        etag = photo.headers["ETag"]
        assert url.rsplit("/", 1)[1].removesuffix(".jpg") in etag
    with client.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag and "no-cache" in again.headers["Cache-Control"]
    with client.get(thumb_url) as thumb:
        assert thumb.status_code == 200 and thumb.headers["ETag"] != etag
        assert statuses(client, thumb_url, **{"If-None-Match": thumb.headers["ETag"]}) == [304]


def test_photos_of_a_withdrawn_contribution_are_no_longer_served(resident, client):
    r = post_with_photos(resident, [(jpeg_with_gps(color=(40, 50, 60)), "w.jpg")])
    url, thumb_url = urls(r)
    with client.get(url) as photo:
        assert photo.status_code == 200
        etag = photo.headers["ETag"]
    assert resident.delete(f"/api/v1/reports/{r.json['id']}").status_code == 204
    assert statuses(client, url, thumb_url) == [404, 404]
    with client.get(url, headers={"If-None-Match": etag, "Accept": "text/html"}) as gone:
        assert gone.status_code == 404 and gone.json["code"] == "not_found"


def test_photos_of_a_hidden_contribution_are_no_longer_served(resident, client, session):
    r = post_with_photos(resident, [(jpeg_with_gps(color=(41, 51, 61)), "h.jpg")])
    url, thumb_url = urls(r)
    assert statuses(client, url, thumb_url) == [200, 200]
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": r.json["id"]})
    session.commit()
    assert statuses(client, url, thumb_url) == [404, 404]


def test_a_photo_another_visible_contribution_uses_is_still_served(resident, client):
    same = jpeg_with_gps(color=(42, 52, 62))
    first = post_with_photos(resident, [(same, "a.jpg")])
    second = post_with_photos(resident, [(same, "b.jpg")], title="Les mêmes tags")
    assert urls(first) == urls(second)
    assert resident.delete(f"/api/v1/reports/{first.json['id']}").status_code == 204
    assert statuses(client, *urls(first)) == [200, 200]
    assert resident.delete(f"/api/v1/reports/{second.json['id']}").status_code == 204
    assert statuses(client, *urls(first)) == [404, 404]


def test_a_field_photo_is_served_while_its_report_is_visible(make_user, make_report, client, session):
    supervisor = make_user(roles=("supervisor",))
    report = make_report()
    r = supervisor.post(f"/api/v1/reports/{report['id']}/transitions", data={
        "transition": '{"to": "resolved", "resolution": "fixed"}',
        "photo": (io.BytesIO(jpeg_with_gps(size=(300, 200), color=(43, 53, 63))), "done.jpg")},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    url = r.json["history"][-1]["photo_url"]
    thumb_url = url.replace(".jpg", ".thumb.jpg")
    assert statuses(client, url, thumb_url) == [200, 200]
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": report["id"]})
    session.commit()
    assert statuses(client, url, thumb_url) == [404, 404]

"""Photos: verified by decoding, re-encoded without metadata, stored by content hash.

Only JPEG, PNG and WebP are parsed at all (`Image.open(formats=...)` keeps Pillow's other
decoders away from uploads). A multi-picture JPEG (MPO, written by many phones: the photo, then
a depth map or a second lens) keeps its first picture, the photo itself.

Nothing but pixels is kept: no EXIF (GPS), XMP, JPEG comment, PNG text (tEXt, iTXt, zTXt) nor
colour profile. EXIF orientation is applied to the pixels first. A colour profile (ICC) is
applied too: the pixels are converted to sRGB and the profile dropped, rather than the profile
kept. Browsers show an untagged JPEG as sRGB, so the colours stay right; and a profile is
metadata too (its description, maker and copyright can name the phone or the software), so
keeping it would make "nothing but pixels" have an exception. A profile that cannot be read or
does not fit the pixels is ignored: the pixels are taken as sRGB rather than the photo refused.
The JPEG is encoded from a new image holding only the pixels, with every metadata argument
given empty: Pillow's JPEG encoder (12.0) otherwise writes the `info["comment"]` of the image it
saves, which a JPEG's COM segment or a PNG's "comment" text fills, and later versions may copy
more. The files have no APP1 (EXIF, XMP), APP2 (ICC, MPF) nor COM segment, only JFIF's APP0.

Decoding time is bounded: an image whose header declares more than MAX_PIXELS is refused before
any pixel is decoded, and a JPEG at least twice the size it is stored at is decoded at 1/2, 1/4
or 1/8 scale by libjpeg (`draft`); the image is then reduced to MAX_SIDE before it is turned,
colour-converted and flattened. Whole `process()` on the worst inputs allowed (median of 3, one
core of the shared 2-core development VM under load, Pillow 12.0):
  JPEG 8160×6120 (50 MP), 5.9 MB: 0.28 s; the same progressive: 0.56 s
  JPEG 5119×5119 (26 MP, just too small to be drafted, so decoded in full) with ICC: 0.55 s
  PNG 7000×7000 (49 MP) RGB: 0.97 s; RGBA with ICC: 1.7 s (the worst; +470 MB of memory peak,
  against +97 MB for the 50 MP JPEG)
  WebP 7000×7000 lossy: 1.2 s; lossless: 1.5 s
(before: 50 MP JPEG 0.62 s, 26 MP JPEG with ICC 2.3 s, WebP 2.0 s).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageFilter, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_SIDE = 2560
THUMB_SIDE = 400
MAX_PIXELS = 50_000_000  # as declared in the header; checked before decoding
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own check, the same limit (process-wide)
SRGB = ImageCms.createProfile("sRGB")
# modes a colour profile is applied to (others, rare in photos, are taken as sRGB)
PROFILE_MODES = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "L": "RGB"}


class PhotoRejected(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass
class ProcessedPhoto:
    sha256: str
    data: bytes
    thumbnail: bytes
    width: int
    height: int


def process(raw: bytes, max_bytes: int) -> ProcessedPhoto:
    """Decode, normalise and re-encode one upload, or raise PhotoRejected."""
    if len(raw) > max_bytes:
        raise PhotoRejected("photo_too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = _decode(raw)
            if img.mode not in PROFILE_MODES:  # a palette is resampled as nearest pixels
                img = img.convert("RGBA" if img.has_transparency_data else "RGB")
            # reduced first, so that what follows works on at most MAX_SIDE² pixels; the box is
            # square, so turning the image after does not change its size
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            img = ImageOps.exif_transpose(img)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise PhotoRejected("photo_unreadable") from None
    img = _flatten(_to_srgb(img))
    data = _jpeg(img, 85)
    thumb = img.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return ProcessedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        thumbnail=_jpeg(thumb, 80),
        width=img.width,
        height=img.height,
    )


def _decode(raw: bytes) -> Image.Image:
    """The first picture, fully decoded (truncated or corrupt files fail here); a large JPEG
    at the smallest scale that still gives MAX_SIDE."""
    img = Image.open(io.BytesIO(raw), formats=sorted(ALLOWED_FORMATS))  # MPO opens as JPEG
    if img.width * img.height > MAX_PIXELS:
        raise PhotoRejected("photo_unreadable")
    if img.format in ("JPEG", "MPO"):
        scale = min(1.0, MAX_SIDE / max(img.size))
        img.draft(None, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
    img.load()
    return img


def _to_srgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in PROFILE_MODES:
        return img
    try:
        return ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB,
                                         outputMode=PROFILE_MODES[img.mode])
    except (ImageCms.PyCMSError, OSError):
        return img


def _flatten(img: Image.Image) -> Image.Image:
    """RGB, on white where the image was transparent."""
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def _jpeg(img: Image.Image, quality: int) -> bytes:
    pixels = Image.new("RGB", img.size)  # no info: nothing for the encoder to copy
    pixels.paste(img)
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=quality, optimize=True,
                comment=b"", exif=b"", xmp=b"", icc_profile=b"")
    return out.getvalue()


def paths(media_dir: Path, sha256: str) -> tuple[Path, Path]:
    folder = media_dir / "photos" / sha256[:2]
    return folder / f"{sha256}.jpg", folder / f"{sha256}.thumb.jpg"


def store(media_dir: Path, photo: ProcessedPhoto) -> list[Path]:
    """Write the photo and its thumbnail (atomically); returns the files it created."""
    created = []
    for path, data in zip(paths(media_dir, photo.sha256), (photo.data, photo.thumbnail), strict=True):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        created.append(path)
    return created


# A redacted region is reduced to at most REDACT_BLOCKS blocks along its longer side, then
# blurred with a radius of REDACT_BLUR of its shorter side: a face or a plate keeps its place
# and rough colour, not a feature a person (or a super-resolution model) could read back.
REDACT_BLOCKS = 8
REDACT_BLUR = 0.12


def redact(data: bytes, regions) -> ProcessedPhoto:
    """A stored photo (one of ours: a JPEG of at most MAX_SIDE) with each region blurred
    beyond reading, re-encoded without metadata, with its own thumbnail and SHA-256.

    A region is `x, y, w, h` as fractions of the width and height (a mapping or an object
    with those attributes); it is widened to whole pixels, never narrowed."""
    img = Image.open(io.BytesIO(data), formats=["JPEG"])
    if img.width * img.height > MAX_PIXELS:
        raise PhotoRejected("photo_unreadable")
    img = img.convert("RGB")
    for region in regions:
        box = _pixel_box(img.size, *(_value(region, k) for k in ("x", "y", "w", "h")))
        part = img.crop(box)
        longer, shorter = max(part.size), min(part.size)
        block = max(1, math.ceil(longer / REDACT_BLOCKS))
        small = part.resize((max(1, math.ceil(part.width / block)), max(1, math.ceil(part.height / block))),
                            Image.Resampling.BOX)
        part = small.resize(part.size, Image.Resampling.NEAREST)
        part = part.filter(ImageFilter.GaussianBlur(max(2.0, shorter * REDACT_BLUR)))
        img.paste(part, box)
    out = _jpeg(img, 85)
    thumb = img.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return ProcessedPhoto(sha256=hashlib.sha256(out).hexdigest(), data=out,
                          thumbnail=_jpeg(thumb, 80), width=img.width, height=img.height)


def _value(region, name: str) -> float:
    return float(region[name] if isinstance(region, dict) else getattr(region, name))


def _pixel_box(size: tuple[int, int], x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
    """The whole pixels a fractional region touches (at least one), inside the image."""
    width, height = size
    left = min(max(0, math.floor(x * width)), width - 1)
    top = min(max(0, math.floor(y * height)), height - 1)
    right = max(left + 1, min(width, math.ceil((x + w) * width)))
    bottom = max(top + 1, min(height, math.ceil((y + h) * height)))
    return left, top, right, bottom

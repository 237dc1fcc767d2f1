"""Photos: verified by decoding, re-encoded without metadata, stored by content hash.

Re-encoding drops every metadata block (EXIF, including GPS, XMP, comments): Pillow writes
none unless asked. Orientation from EXIF is applied to the pixels first.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_SIDE = 2560
THUMB_SIDE = 400
Image.MAX_IMAGE_PIXELS = 50_000_000  # refuse decompression bombs early


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
            img = Image.open(io.BytesIO(raw))
            if img.format not in ALLOWED_FORMATS:
                raise PhotoRejected("photo_unreadable")
            img.load()  # full decode: truncated or corrupt files fail here
            img = ImageOps.exif_transpose(img)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise PhotoRejected("photo_unreadable") from None
    img = _flatten(img)
    img.thumbnail((MAX_SIDE, MAX_SIDE))
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


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=True)
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

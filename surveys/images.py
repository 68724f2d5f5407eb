"""Validation and re-encoding of uploaded images.

Every accepted upload is decoded by Pillow and written again as a fresh PNG or JPEG under a
server-generated name. Re-encoding drops EXIF (locations, device ids) and anything appended to
the file; refusing markup up front stops SVGs and HTML or PHP polyglots that a browser or a
misconfigured server might execute.
"""

from __future__ import annotations

import io
import uuid

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 10_000
ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "png", "GIF": "png"}
MARKUP = (b"<svg", b"<html", b"<script", b"<?php", b"<!doctype", b"<?xml", b"<body", b"<iframe")

TOO_LARGE = "The file is larger than 10 MB."
NOT_AN_IMAGE = "The file is not a PNG, JPEG, WebP or GIF image."
MARKUP_FOUND = "The file contains markup (SVG, HTML or script) and was refused."
TOO_MANY_PIXELS = "The image is too large (at most 40 megapixels and 10,000 pixels a side)."


def image_sanitize(upload) -> ContentFile:
    """Returns a re-encoded copy of the upload under a random name, or raises ValidationError."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ValidationError(TOO_LARGE)
    upload.seek(0)
    raw = upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ValidationError(TOO_LARGE)
    lowered = raw.lower()
    if any(marker in lowered for marker in MARKUP):
        raise ValidationError(MARKUP_FOUND)
    try:
        with PILImage.open(io.BytesIO(raw)) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in ALLOWED_FORMATS:
                raise ValidationError(NOT_AN_IMAGE)
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise ValidationError(TOO_MANY_PIXELS)
            probe.verify()
        with PILImage.open(io.BytesIO(raw)) as image:
            image.load()
            extension = ALLOWED_FORMATS[fmt]
            out = io.BytesIO()
            if extension == "jpg":
                image.convert("RGB").save(out, format="JPEG", quality=88, optimize=True)
            else:
                clean = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
                clean.save(out, format="PNG", optimize=True)
    except ValidationError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ValidationError(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(NOT_AN_IMAGE) from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")

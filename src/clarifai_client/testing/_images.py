"""Read an input's image (bytes or a file:// URL) and decode it small, with in-band errors."""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
import warnings

from PIL import Image, UnidentifiedImageError

from clarifai_client.grpc.api import resources_pb2
from clarifai_client.grpc.api.status import status_code_pb2
from clarifai_client.testing._status import InBandError

__all__ = ["MAX_PIXELS", "SUPPORTED_FORMATS", "THUMBNAIL_SIZE", "decode_small", "image_bytes"]

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF"})
MAX_PIXELS = 85_000_000
THUMBNAIL_SIZE = (64, 64)
_DECODE_FAILED = "Failed to decode the input image"


def image_bytes(image: resources_pb2.Image) -> bytes:
    """The image's bytes: ``image.base64`` as sent, or the file a ``file://`` URL names.

    Raises:
        InBandError: INPUT_DOWNLOAD_FAILED (30002) for a URL this offline server cannot read
            (any scheme but file://, or a missing/unreadable file); INPUT_INVALID_ARGUMENT (30104)
            when the input has no image.
    """
    if image.base64:
        return image.base64
    if not image.url:
        raise InBandError(
            status_code_pb2.INPUT_INVALID_ARGUMENT,
            "The input has no image: set data.image.base64 (the bytes) or data.image.url.",
        )
    url = image.url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        raise InBandError(
            status_code_pb2.INPUT_DOWNLOAD_FAILED,
            f"Could not download {_shown(url)!r}: the local test server is offline and reads only image "
            "bytes (data.image.base64) and file:// URLs.",
        )
    path = urllib.request.url2pathname(parts.path)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InBandError(
            status_code_pb2.INPUT_DOWNLOAD_FAILED,
            f"Could not read {_shown(url)!r}: {exc.strerror or exc}.",
        ) from exc


def _shown(url: str) -> str:
    """The URL without user info, query or fragment (they may hold credentials)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    suffix = "?<redacted>" if parts.query or parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) + suffix


def decode_small(data: bytes) -> Image.Image:
    """Decode ``data`` and shrink it to at most 64x64 RGB (nearest neighbour: no blended colors).

    Raises:
        InBandError: INPUT_DOWNLOAD_FAILED (30002) when the bytes do not decode as an image,
            INPUT_UNSUPPORTED_FORMAT (30101) for a format the API does not take,
            INPUT_INVALID_ARGUMENT (30104) above 85 megapixels.
    """
    try:
        with warnings.catch_warnings():
            # Over 85 megapixels is refused below; Pillow's own bomb warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            if img.format not in SUPPORTED_FORMATS:
                raise InBandError(
                    status_code_pb2.INPUT_UNSUPPORTED_FORMAT,
                    f"Image format {img.format} is not supported; send JPEG, PNG, TIFF, BMP, WEBP or GIF.",
                )
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise InBandError(
                    status_code_pb2.INPUT_INVALID_ARGUMENT,
                    f"The image is {width}x{height} pixels; the limit is 85 megapixels.",
                )
            img.draft("RGB", THUMBNAIL_SIZE)
            img.thumbnail(THUMBNAIL_SIZE, Image.Resampling.NEAREST)
            rgb: Image.Image = img.convert("RGB")
            return rgb
    except InBandError:
        raise
    except Image.DecompressionBombError as exc:
        raise InBandError(
            status_code_pb2.INPUT_INVALID_ARGUMENT,
            "The image is far above the 85 megapixel limit.",
        ) from exc
    except UnidentifiedImageError as exc:
        raise InBandError(
            status_code_pb2.INPUT_DOWNLOAD_FAILED,
            "The bytes are not an image in a format Pillow recognises.",
            description=_DECODE_FAILED,
        ) from exc
    except Exception as exc:  # Pillow raises many types for bad data; none may crash the server
        raise InBandError(
            status_code_pb2.INPUT_DOWNLOAD_FAILED,
            f"The image could not be decoded ({type(exc).__name__}: {exc}).",
            description=_DECODE_FAILED,
        ) from exc

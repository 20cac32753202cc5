"""An in-memory local Clarifai V2 server for tests and offline use: `LocalV2Server`."""

from __future__ import annotations

from clarifai_client.testing._calls import RecordedCall
from clarifai_client.testing._dispatch import unimplemented_details
from clarifai_client.testing._handlers import IMPLEMENTED_METHODS
from clarifai_client.testing._models import COLOR_MODEL_ID, TEXT_MODEL_ID
from clarifai_client.testing._server import (
    DEFAULT_API_KEY,
    DEFAULT_APP_ID,
    DEFAULT_PAT,
    DEFAULT_USER_ID,
    LocalV2Server,
)

__all__ = [
    "COLOR_MODEL_ID",
    "DEFAULT_API_KEY",
    "DEFAULT_APP_ID",
    "DEFAULT_PAT",
    "DEFAULT_USER_ID",
    "IMPLEMENTED_METHODS",
    "TEXT_MODEL_ID",
    "LocalV2Server",
    "RecordedCall",
    "unimplemented_details",
]

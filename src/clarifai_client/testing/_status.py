"""In-band statuses as the API sends them: a code, its description, details and a fresh req_id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Optional

from clarifai_client.grpc.api.status import status_code_pb2, status_pb2

__all__ = [
    "InBandError",
    "all_statuses",
    "batch_code",
    "describe",
    "make_status",
    "new_req_id",
]

_S = status_code_pb2

# Descriptions for the codes this server sends; other codes get their humanised enum name.
_DESCRIPTIONS: Mapping[int, str] = MappingProxyType(
    {
        _S.SUCCESS: "Ok",
        _S.MIXED_STATUS: "Mixed Success",
        _S.FAILURE: "Failure",
        _S.CONN_INSUFFICIENT_SCOPES: "Insufficient scopes",
        _S.CONN_KEY_INVALID: "Invalid API key or Invalid API key/application pair",
        _S.CONN_KEY_NOT_FOUND: "API key not found",
        _S.CONN_DOES_NOT_EXIST: "Resource does not exist",
        _S.CONN_INVALID_REQUEST: "Invalid request",
        _S.MODEL_DOES_NOT_EXIST: "Model does not exist",
        _S.INPUT_DOWNLOAD_SUCCESS: "Download complete",
        _S.INPUT_DOWNLOAD_FAILED: "Download failed; check URL",
        _S.INPUT_DUPLICATE: "Input already exists",
        _S.INPUT_UNSUPPORTED_FORMAT: "Input format not supported",
        _S.INPUT_DOES_NOT_EXIST: "Input does not exist",
        _S.INPUT_INVALID_ARGUMENT: "Invalid input argument",
        _S.INPUT_INVALID_REQUEST: "Invalid request",
        _S.PREDICT_INVALID_REQUEST: "Invalid prediction request",
        _S.CONCEPTS_INVALID_REQUEST: "Invalid concepts request",
    }
)


class InBandError(Exception):
    """Raised by a handler to answer with gRPC OK and this non-SUCCESS status."""

    def __init__(
        self,
        code: status_code_pb2.StatusCode.ValueType,
        details: str = "",
        description: Optional[str] = None,
    ) -> None:
        self.code = code
        self.details = details
        self.description = description
        super().__init__(f"{int(code)}: {details}")

    def status(self) -> status_pb2.Status:
        """The Status message for this error (with a new req_id)."""
        return make_status(self.code, self.details, self.description)


def new_req_id() -> str:
    """A unique request id, like the ones users quote to support."""
    return "local-" + uuid.uuid4().hex


def describe(code: int) -> str:
    """The description the API gives for ``code``."""
    known = _DESCRIPTIONS.get(code)
    if known is not None:
        return known
    try:
        name = status_code_pb2.StatusCode.Name(code)  # type: ignore[arg-type]
    except ValueError:
        return f"Unknown status code {code}"
    return name.replace("_", " ").capitalize()


def make_status(
    code: status_code_pb2.StatusCode.ValueType,
    details: str = "",
    description: Optional[str] = None,
    req_id: Optional[str] = None,
) -> status_pb2.Status:
    """A Status with ``code``, its description (or the one given), ``details`` and a req_id."""
    return status_pb2.Status(
        code=code,
        description=description if description is not None else describe(code),
        details=details,
        req_id=req_id if req_id is not None else new_req_id(),
    )


def batch_code(
    item_codes: list[status_code_pb2.StatusCode.ValueType],
) -> status_code_pb2.StatusCode.ValueType:
    """SUCCESS if every item succeeded, FAILURE if none did, MIXED_STATUS otherwise."""
    ok = sum(1 for code in item_codes if code == _S.SUCCESS)
    if ok == len(item_codes):
        return _S.SUCCESS
    return _S.FAILURE if ok == 0 else _S.MIXED_STATUS


def all_statuses() -> list[status_pb2.Status]:
    """One Status per distinct code of the StatusCode enum (aliases once, ZERO left out)."""
    seen: set[int] = set()
    statuses: list[status_pb2.Status] = []
    for value in status_code_pb2.StatusCode.DESCRIPTOR.values:
        if value.number == 0 or value.number in seen:
            continue
        seen.add(value.number)
        code = status_code_pb2.StatusCode.Value(value.name)
        statuses.append(status_pb2.Status(code=code, description=describe(code)))
    return statuses

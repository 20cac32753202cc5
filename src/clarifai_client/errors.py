"""One small error hierarchy for local mistakes, in-band API statuses and transport failures."""

from __future__ import annotations

import functools
from typing import Any, Optional, TypeVar

import grpc

__all__ = [
    "ClarifaiConfigError",
    "ClarifaiError",
    "ClarifaiRpcError",
    "ClarifaiStatusError",
    "InsecureCredentialsWarning",
    "ItemFailure",
    "PatRequiredError",
    "raise_for_status",
]

SUCCESS = 10000
MIXED_STATUS = 10010

R = TypeVar("R")


class ClarifaiError(Exception):
    """Base class of every error this package raises."""


class ClarifaiConfigError(ClarifaiError, ValueError):
    """Bad input caught locally, before any network I/O (credentials, targets, options)."""


class InsecureCredentialsWarning(UserWarning):
    """A credential is about to travel in plaintext to a host that is not this machine."""


class PatRequiredError(ClarifaiError, PermissionError):
    """The method accepts only a Personal Access Token, and the channel has an API key."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.method,))

    def __init__(self, method: str) -> None:
        self.method = method
        super().__init__(
            f"{method} needs a Personal Access Token (PAT); this channel authenticates with an "
            "app-scoped API key, which the API rejects for this method. Build the channel with "
            "auth=Auth.from_pat(pat, user_id=..., app_id=...) (or set CLARIFAI_PAT)."
        )


@functools.lru_cache(maxsize=1)
def _code_names() -> dict[int, str]:
    """Number → name; for aliased numbers, the name declared first (e.g. INPUT_DOWNLOAD_FAILED)."""
    from clarifai_client.grpc.api.status import status_code_pb2

    names: dict[int, str] = {}
    for value in status_code_pb2.StatusCode.DESCRIPTOR.values:
        names.setdefault(value.number, value.name)
    return names


def _code_name(code: int) -> str:
    return _code_names().get(code, f"UNKNOWN_STATUS_{code}")


class ItemFailure:
    """One failed item of a batch response (an output or input whose own status is not SUCCESS).

    Attributes: ``kind`` ("input", "output", ...), ``index`` in the response, ``id``, ``code``,
    ``code_name``, ``description``.
    """

    __slots__ = ("code", "code_name", "description", "id", "index", "kind")

    def __init__(self, kind: str, index: int, id: str, code: int, code_name: str, description: str) -> None:
        self.kind = kind
        self.index = index
        self.id = id
        self.code = code
        self.code_name = code_name
        self.description = description

    def _key(self) -> tuple[str, int, str, int, str, str]:
        return (self.kind, self.index, self.id, self.code, self.code_name, self.description)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ItemFailure) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "ItemFailure(kind={!r}, index={!r}, id={!r}, code={!r}, code_name={!r}, description={!r})".format(
            *self._key()
        )

    def __str__(self) -> str:
        ident = f"id={self.id!r}" if self.id else f"#{self.index}"
        return f"{self.kind} {ident}: {self.code} {self.code_name} ({self.description})"


class ClarifaiStatusError(ClarifaiError):
    """The API answered (gRPC OK) with an in-band status other than SUCCESS.

    Attributes:
        code: the numeric status code (e.g. 11008).
        code_name: its name (e.g. ``CONN_KEY_INVALID``).
        description, details, req_id: from ``response.status``; quote ``req_id`` to support.
        response: the whole response message, still reachable (e.g. successful outputs of a batch).
        failures: for MIXED_STATUS, the items that failed.
    """

    def __init__(self, response: Any, method: Optional[str] = None) -> None:
        status = response.status
        self.response = response
        self.method = method
        self.code: int = int(status.code)
        self.code_name: str = _code_name(self.code)
        self.description: str = status.description
        self.details: str = status.details
        self.req_id: str = status.req_id
        self.failures: tuple[ItemFailure, ...] = _item_failures(response)
        super().__init__(self._message())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.response, self.method))

    def _message(self) -> str:
        where = f"{self.method}: " if self.method else ""
        text = f"{where}{self.code} {self.code_name}"
        if self.description:
            text += f": {self.description}"
        if self.details:
            text += f" ({self.details})"
        if self.failures:
            shown = "; ".join(str(f) for f in self.failures[:10])
            more = f"; and {len(self.failures) - 10} more" if len(self.failures) > 10 else ""
            text += f". Failed items: {shown}{more}"
        if self.req_id:
            text += f" [req_id={self.req_id}]"
        return text


def _item_failures(response: Any) -> tuple[ItemFailure, ...]:
    failures: list[ItemFailure] = []
    descriptor = getattr(response, "DESCRIPTOR", None)
    if descriptor is None:
        return ()
    for field in descriptor.fields:
        if not field.is_repeated or field.message_type is None:
            continue
        if "status" not in field.message_type.fields_by_name:
            continue
        kind = field.name[:-1] if field.name.endswith("s") else field.name
        for index, item in enumerate(getattr(response, field.name)):
            code = int(item.status.code)
            if code in (SUCCESS, 0):
                continue
            item_id = getattr(item, "id", "")
            input_msg = getattr(item, "input", None)
            if kind == "output" and input_msg is not None and input_msg.id:
                item_id = input_msg.id
                kind_label = "input"
            else:
                kind_label = kind
            failures.append(
                ItemFailure(kind_label, index, item_id, code, _code_name(code), item.status.description)
            )
    return tuple(failures)


def raise_for_status(response: R, method: Optional[str] = None) -> R:
    """Return ``response`` if its status is SUCCESS; otherwise raise :class:`ClarifaiStatusError`.

    MIXED_STATUS raises too, naming each failed item (id and code); ``err.response`` keeps the rest.
    """
    status = getattr(response, "status", None)
    if status is None or not hasattr(status, "code"):
        raise TypeError(
            f"raise_for_status() takes a Clarifai response message (with a .status), not {type(response).__name__}"
        )
    if status.code == SUCCESS:
        return response
    raise ClarifaiStatusError(response, method=method)


class ClarifaiRpcError(ClarifaiError, grpc.RpcError, grpc.Call):  # type: ignore[misc, unused-ignore]
    """A transport-level failure (the RPC did not complete OK), with a hint on how to fix it.

    It is still a ``grpc.RpcError`` with ``code()`` and ``details()``, so code written against the
    published client keeps working; the original error is ``__cause__`` / :attr:`cause`.
    """

    def __init__(self, cause: grpc.RpcError, method: str, hint: str = "") -> None:
        self.cause = cause
        self.method = method
        self.hint = hint
        code = cause.code() if hasattr(cause, "code") else None
        details = cause.details() if hasattr(cause, "details") else str(cause)
        self._code: Optional[grpc.StatusCode] = code
        self._details: Optional[str] = details
        name = code.name if code is not None else "UNKNOWN"
        message = f"{method}: gRPC {name}: {details}"
        if hint:
            message += f". {hint}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # The live gRPC error holds locks and cannot be pickled: keep its code and details only.
        return (_restore_rpc_error, (self.code().name, self.details(), self.method, self.hint))

    def code(self) -> grpc.StatusCode:
        return self._code if self._code is not None else grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details or ""

    def initial_metadata(self) -> Any:
        return self.cause.initial_metadata() if hasattr(self.cause, "initial_metadata") else None

    def trailing_metadata(self) -> Any:
        return self.cause.trailing_metadata() if hasattr(self.cause, "trailing_metadata") else None

    def debug_error_string(self) -> str:
        fn = getattr(self.cause, "debug_error_string", None)
        return fn() if fn else ""

    # grpc.Call / grpc.RpcContext abstract methods
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Optional[float]:  # type: ignore[override, unused-ignore]
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


class _PickledRpcError(grpc.RpcError):
    """What is left of a gRPC error after pickling: its code and details."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def _restore_rpc_error(code_name: str, details: str, method: str, hint: str) -> ClarifaiRpcError:
    return ClarifaiRpcError(_PickledRpcError(grpc.StatusCode[code_name], details), method, hint)

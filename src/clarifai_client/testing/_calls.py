"""A thread-safe record of the calls a local server received, for tests to assert on."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import NamedTuple, Optional, Union

from google.protobuf.message import Message

__all__ = ["CallLog", "RecordedCall"]

MetadataValue = Union[str, bytes]


class RecordedCall(NamedTuple):
    """One request that arrived: ``(method, metadata, request)``.

    Attributes:
        method: the RPC's short name, e.g. ``"PostModelOutputs"``.
        metadata: the invocation metadata as a dict (keys lower-case; the last value of a repeated
            key wins; ``-bin`` keys hold bytes).
        request: the request message; each message of a client stream is recorded on its own.
            None for an unimplemented client-streaming method, whose stream is not read.
    """

    method: str
    metadata: Mapping[str, MetadataValue]
    request: Optional[Message]


class CallLog:
    """Append-only list of :class:`RecordedCall`, safe to use from the server's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []

    def record(
        self,
        method: str,
        metadata: Iterable[tuple[str, MetadataValue]],
        request: Optional[Message],
    ) -> None:
        """Append one call."""
        call = RecordedCall(method, dict(metadata), request)
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[RecordedCall]:
        """A copy of the calls so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        with self._lock:
            self._calls.clear()

"""Consume response streams, raising on the first in-band failure or transport error."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Optional

import grpc

from clarifai_client.errors import SUCCESS, ClarifaiRpcError, ClarifaiStatusError

__all__ = ["aiter_responses", "iter_responses"]

_UNNAMED = "response stream"


def iter_responses(call: Iterable[Any], method: Optional[str] = None) -> Iterator[Any]:
    """Yield each message of a sync response stream (or any iterable of responses).

    Args:
        call: what a server-streaming or bidi stub method returned.
        method: the method's name, used in error messages (e.g. ``"GenerateModelOutputs"``).

    Raises:
        ClarifaiStatusError: on the first message whose ``status.code`` is not SUCCESS, with its
            ``code``, ``description`` and ``req_id``; the RPC is cancelled.
        ClarifaiRpcError: when the stream ends with a gRPC error (``code()`` as gRPC's), after the
            messages that did arrive.

    Leaving the loop early (``break``, an exception) cancels the RPC as soon as the generator is
    closed: when it is garbage-collected, or at once with ``.close()``.
    """
    finished = False
    try:
        for message in call:
            yield _checked(message, method)
        finished = True
    except grpc.RpcError as err:
        finished = True
        raise ClarifaiRpcError(err, method or _UNNAMED) from err
    finally:
        if not finished:
            _cancel(call)


async def aiter_responses(call: AsyncIterable[Any], method: Optional[str] = None) -> AsyncIterator[Any]:
    """Async twin of :func:`iter_responses` for grpc.aio streaming calls (or any async iterable).

    Cancelling the task that consumes it cancels the RPC. After ``break`` the RPC is cancelled
    when the generator is closed: ``await stream.aclose()`` (or ``contextlib.aclosing``) does it
    at once, otherwise the event loop closes it once it is garbage-collected.
    """
    finished = False
    try:
        async for message in call:
            yield _checked(message, method)
        finished = True
    except grpc.RpcError as err:
        finished = True
        raise ClarifaiRpcError(err, method or _UNNAMED) from err
    finally:
        if not finished:
            _cancel(call)


def _checked(message: Any, method: Optional[str]) -> Any:
    """The message itself, or ClarifaiStatusError if its in-band status is not SUCCESS."""
    if message.status.code != SUCCESS:
        raise ClarifaiStatusError(message, method=method)
    return message


def _cancel(call: Any) -> None:
    """Cancel the RPC behind a stream left early (plain iterables have nothing to cancel)."""
    cancel = getattr(call, "cancel", None)
    if cancel is not None:
        cancel()

"""Consume response streams, raising on the first in-band failure or transport error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import grpc

from clarifai_client.errors import SUCCESS, ClarifaiRpcError, ClarifaiStatusError

__all__ = ["aiter_responses", "iter_responses"]

T = TypeVar("T")


def _method_of(call: Any, method: str | None) -> str:
    return method or type(call).__name__


def iter_responses(call: Any, method: str | None = None) -> Iterator[Any]:
    """Yield each message of a sync response stream.

    Raises :class:`ClarifaiStatusError` on the first message whose ``status.code`` is not SUCCESS,
    and :class:`ClarifaiRpcError` if the stream ends with a gRPC error. Leaving the loop early
    (``break``, an exception) cancels the RPC.
    """
    finished = False
    try:
        for message in call:
            if message.status.code != SUCCESS:
                raise ClarifaiStatusError(message, method=method)
            yield message
        finished = True
    except grpc.RpcError as err:
        finished = True
        raise ClarifaiRpcError(err, _method_of(call, method)) from err
    finally:
        if not finished and hasattr(call, "cancel"):
            call.cancel()


async def aiter_responses(call: Any, method: str | None = None) -> AsyncIterator[Any]:
    """Async twin of :func:`iter_responses` for grpc.aio streaming calls."""
    finished = False
    try:
        async for message in call:
            if message.status.code != SUCCESS:
                raise ClarifaiStatusError(message, method=method)
            yield message
        finished = True
    except grpc.RpcError as err:
        finished = True
        raise ClarifaiRpcError(err, _method_of(call, method)) from err
    finally:
        if not finished and hasattr(call, "cancel"):
            call.cancel()

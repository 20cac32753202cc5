"""A grpc.aio.Channel that applies a CallPolicy to every call and binds to each event loop lazily.

grpc.aio channels belong to the event loop they were created in. This wrapper creates the real
channel on first use inside a running loop, and one more per loop if the same object is used from
another loop (e.g. a second ``asyncio.run``), so it can be built anywhere, even at import time.
Use one running loop at a time: grpc.aio (1.85) is not reliable with loops running at once in
several threads (intermittent INTERNAL errors and aborts were seen in tests). ``close()`` closes
the running loop's channel only: later calls in that loop fail as on a closed grpc.aio channel,
and another loop gets a fresh one. Channels of loops that have been closed are dropped (and so
closed by grpc) when a new loop binds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Callable, Optional

import grpc
import grpc.aio

from clarifai_client._call_policy import THROTTLED, CallPolicy, checked_timeout
from clarifai_client._method_rules import LazyRule

__all__ = ["AioPolicyChannel"]

ChannelMaker = Callable[[], grpc.aio.Channel]

if TYPE_CHECKING:  # the stubs' multicallables are generic; grpc's runtime classes are not
    _UnaryUnaryBase = grpc.aio.UnaryUnaryMultiCallable[Any, Any]
    _UnaryStreamBase = grpc.aio.UnaryStreamMultiCallable[Any, Any]
    _StreamUnaryBase = grpc.aio.StreamUnaryMultiCallable[Any, Any]
    _StreamStreamBase = grpc.aio.StreamStreamMultiCallable[Any, Any]
else:
    _UnaryUnaryBase = grpc.aio.UnaryUnaryMultiCallable
    _UnaryStreamBase = grpc.aio.UnaryStreamMultiCallable
    _StreamUnaryBase = grpc.aio.StreamUnaryMultiCallable
    _StreamStreamBase = grpc.aio.StreamStreamMultiCallable


def _running_loop(method: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError as err:
        raise RuntimeError(
            f"{method} was called on an asyncio channel outside a running event loop. Call aio "
            "channel methods from async code (inside `async def`, run with asyncio.run), or use "
            "the sync factories (get_grpc_channel / get_insecure_grpc_channel)."
        ) from err


class _Bound:
    """Resolves the inner multicallable for the running loop, caching the last one."""

    __slots__ = ("_args", "_channel", "_kind", "_last")

    def __init__(self, channel: AioPolicyChannel, kind: str, args: tuple[Any, ...]) -> None:
        self._channel = channel
        self._kind = kind
        self._args = args
        self._last: tuple[Optional[asyncio.AbstractEventLoop], Any] = (None, None)

    def get(self, method: str) -> Any:
        loop = _running_loop(method)
        last_loop, last = self._last
        if last_loop is loop:
            return last
        inner = self._channel.channel_for(loop)
        mc = getattr(inner, self._kind)(*self._args[:3], **self._args[3])
        self._last = (loop, mc)
        return mc


class _AioUnaryUnaryCall:
    """Awaitable result of a unary call: retries throttling, translates errors; proxies the call."""

    __slots__ = ("_args", "_call", "_deadline", "_owner", "_request", "_retries", "_timeout")

    def __init__(
        self, owner: _AioUnaryUnary, request: Any, timeout: Optional[float], args: tuple[Any, ...]
    ) -> None:
        self._owner = owner
        self._request = request
        self._timeout = timeout
        self._args = args
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._retries: Optional[asyncio.Task[Any]] = None  # the throttle retries, once started
        self._call = owner.bound.get(owner.name)(
            request,
            timeout=timeout,
            metadata=args[0],
            credentials=args[1],
            wait_for_ready=args[2],
            compression=args[3],
        )

    def __await__(self) -> Generator[Any, None, Any]:
        # A generator rather than a coroutine: the common path (no error, not throttled) then
        # costs no extra coroutine object or frame per resumption (benchmarks/ section (c)).
        # Awaiting again gives the same result: grpc caches the call's, and retries run once.
        if self._retries is not None:
            return (yield from self._retries.__await__())
        try:
            response = yield from self._call.__await__()
        except grpc.RpcError as err:
            raise self._owner.policy.translate(err, self._owner.name, self._timeout) from err
        owner = self._owner
        if not owner.policy.throttle_retries or not owner.rule.name or response.status.code != THROTTLED:
            return response
        self._retries = asyncio.ensure_future(self._retry_throttled(response))
        return (yield from self._retries.__await__())

    async def _retry_throttled(self, response: Any) -> Any:
        owner = self._owner
        policy = owner.policy
        attempt = 0
        while True:
            attempt += 1
            remaining = None if self._deadline is None else self._deadline - time.monotonic()
            delay = policy.throttle_delay(attempt, remaining)
            if delay is None:
                return response
            policy.log_throttle(owner.name, attempt, delay)
            await asyncio.sleep(delay)
            timeout = (
                None if self._deadline is None else max(self._deadline - time.monotonic(), 0.001)
            )
            args = self._args
            self._call = owner.bound.get(owner.name)(
                self._request,
                timeout=timeout,
                metadata=args[0],
                credentials=args[1],
                wait_for_ready=args[2],
                compression=args[3],
            )
            try:
                response = await self._call
            except grpc.RpcError as err:
                raise policy.translate(err, owner.name, timeout) from err
            if response.status.code != THROTTLED:
                return response

    def done(self) -> bool:
        """True once the call, and any throttle retries it started, have finished."""
        return self._retries.done() if self._retries is not None else bool(self._call.done())

    def cancelled(self) -> bool:
        if self._retries is not None:
            return self._retries.cancelled() or bool(self._call.cancelled())
        return bool(self._call.cancelled())

    def cancel(self) -> bool:
        """Cancel the RPC and any throttle retries still to come."""
        stopped = self._retries.cancel() if self._retries is not None else False
        return bool(self._call.cancel()) or stopped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _AioUnaryUnary(LazyRule, _UnaryUnaryBase):
    __slots__ = ("_path", "_rule_cache", "bound", "policy")

    def __init__(self, bound: _Bound, method: str, policy: CallPolicy) -> None:
        self.bound = bound
        self.policy = policy
        self._path = method
        self._rule_cache = None

    def __call__(
        self,
        request: Any,
        *,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        policy = self.policy
        timeout = checked_timeout(timeout)
        request, md = policy.prepare(self.rule, request, metadata)
        if timeout is None:
            timeout = policy.default_timeout
        return _AioUnaryUnaryCall(self, request, timeout, (md, credentials, wait_for_ready, compression))


class _AioStreaming(LazyRule):
    """Shared body of the three streaming kinds: no default deadline, calls returned as they are."""

    __slots__ = ("_path", "_rule_cache", "bound", "policy")

    def __init__(self, bound: _Bound, method: str, policy: CallPolicy) -> None:
        self.bound = bound
        self.policy = policy
        self._path = method
        self._rule_cache = None

    def _call(
        self,
        request: Any,
        request_is_message: bool,
        timeout: Optional[float],
        metadata: Any,
        credentials: Any,
        wait_for_ready: Optional[bool],
        compression: Any,
    ) -> Any:
        policy = self.policy
        rule = self.rule
        timeout = checked_timeout(timeout)
        mc = self.bound.get(self.name)  # first: outside a running loop this raises, before any work
        request, md = policy.prepare(rule, request, metadata, stream=not request_is_message)
        return mc(
            request,
            timeout=timeout,
            metadata=md,
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )


class _AioUnaryStream(_AioStreaming, _UnaryStreamBase):
    __slots__ = ()

    def __call__(
        self,
        request: Any,
        *,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        return self._call(
            request, True, timeout, metadata, credentials, wait_for_ready, compression
        )


class _AioStreamUnaryCall:
    """Awaitable result of a stream-unary call: translates transport errors; proxies the call."""

    __slots__ = ("_call", "_owner", "_timeout")

    def __init__(self, owner: _AioStreaming, call: Any, timeout: Optional[float]) -> None:
        self._owner = owner
        self._call = call
        self._timeout = timeout

    def __await__(self) -> Generator[Any, None, Any]:
        return self._run().__await__()

    async def _run(self) -> Any:
        try:
            return await self._call
        except grpc.RpcError as err:
            raise self._owner.policy.translate(err, self._owner.name, self._timeout) from err

    def done(self) -> bool:
        """True once the call, and any throttle retries it started, have finished."""
        return self._retries.done() if self._retries is not None else bool(self._call.done())

    def cancelled(self) -> bool:
        if self._retries is not None:
            return self._retries.cancelled() or bool(self._call.cancelled())
        return bool(self._call.cancelled())

    def cancel(self) -> bool:
        """Cancel the RPC and any throttle retries still to come."""
        stopped = self._retries.cancel() if self._retries is not None else False
        return bool(self._call.cancel()) or stopped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _AioStreamUnary(_AioStreaming, _StreamUnaryBase):
    __slots__ = ()

    def __call__(
        self,
        request_iterator: Any = None,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        call = self._call(
            request_iterator, False, timeout, metadata, credentials, wait_for_ready, compression
        )
        return _AioStreamUnaryCall(self, call, timeout)


class _AioStreamStream(_AioStreaming, _StreamStreamBase):
    __slots__ = ()

    def __call__(
        self,
        request_iterator: Any = None,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        return self._call(
            request_iterator, False, timeout, metadata, credentials, wait_for_ready, compression
        )


class AioPolicyChannel(grpc.aio.Channel):
    """The asyncio channel returned by the aio factories."""

    def __init__(self, make_channel: ChannelMaker, policy: CallPolicy, description: str) -> None:
        self._make_channel = make_channel
        self._policy = policy
        self._description = description
        self._channels: dict[asyncio.AbstractEventLoop, grpc.aio.Channel] = {}
        self._closed_loops: set[asyncio.AbstractEventLoop] = set()  # close() was awaited there
        self._lock = threading.Lock()

    @property
    def policy(self) -> CallPolicy:
        return self._policy

    def channel_for(self, loop: asyncio.AbstractEventLoop) -> grpc.aio.Channel:
        """The real grpc.aio channel of ``loop``, made on first use; closed loops' channels go."""
        with self._lock:
            channel = self._channels.get(loop)
            if channel is None:
                if loop in self._closed_loops:
                    # never bind anything to a closed grpc.aio channel (registering a method on
                    # one is unsafe); multicallables made before close() raise the same error
                    raise grpc.aio.UsageError("Channel is closed.")
                for old in [old for old in self._channels if old.is_closed()]:
                    del self._channels[old]
                self._closed_loops = {old for old in self._closed_loops if not old.is_closed()}
                channel = self._make_channel()
                self._channels[loop] = channel
            return channel

    def _current(self, what: str) -> grpc.aio.Channel:
        return self.channel_for(_running_loop(what))

    def _bound(
        self,
        kind: str,
        method: str,
        request_serializer: Any,
        response_deserializer: Any,
        kwargs: dict[str, Any],
    ) -> _Bound:
        return _Bound(self, kind, (method, self._policy.serializer(request_serializer), response_deserializer, kwargs))

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _AioUnaryUnary:
        bound = self._bound(
            "unary_unary", method, request_serializer, response_deserializer, kwargs
        )
        return _AioUnaryUnary(bound, method, self._policy)

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _AioUnaryStream:
        bound = self._bound(
            "unary_stream", method, request_serializer, response_deserializer, kwargs
        )
        return _AioUnaryStream(bound, method, self._policy)

    def stream_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _AioStreamUnary:
        bound = self._bound(
            "stream_unary", method, request_serializer, response_deserializer, kwargs
        )
        return _AioStreamUnary(bound, method, self._policy)

    def stream_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _AioStreamStream:
        bound = self._bound(
            "stream_stream", method, request_serializer, response_deserializer, kwargs
        )
        return _AioStreamStream(bound, method, self._policy)

    async def close(self, grace: Optional[float] = None) -> None:
        """Close the running loop's channel (calls in flight are cancelled after ``grace`` s).

        Later calls in this loop raise as on a closed grpc.aio channel; other loops are unaffected,
        and a new loop (e.g. the next ``asyncio.run``) gets a fresh channel.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            channel = self._channels.pop(loop, None)
            self._closed_loops.add(loop)
        if channel is not None:
            await channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._current("get_state").get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._current("wait_for_state_change").wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._current("channel_ready").channel_ready()

    async def __aenter__(self) -> AioPolicyChannel:
        return self

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        await self.close(None)

    def __repr__(self) -> str:
        return f"<ClarifaiChannel aio {self._description}>"

"""A grpc.aio.Channel that applies a CallPolicy to every call and binds to each event loop lazily.

grpc.aio channels belong to the event loop they were created in. This wrapper creates the real
channel on first use inside a running loop, and one more per loop if the same object is used from
another loop (e.g. a second ``asyncio.run``), so it can be built anywhere, even at import time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any, Callable, Optional

import grpc
import grpc.aio

from clarifai_client._call_policy import THROTTLED, CallPolicy
from clarifai_client._method_rules import rule_for

__all__ = ["AioPolicyChannel"]

ChannelMaker = Callable[[], grpc.aio.Channel]


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

    __slots__ = ("_args", "_call", "_deadline", "_owner", "_request", "_timeout")

    def __init__(self, owner: _AioUnaryUnary, request: Any, timeout: Optional[float], args: tuple[Any, ...]) -> None:
        self._owner = owner
        self._request = request
        self._timeout = timeout
        self._args = args
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._call = owner.bound.get(owner.name)(request, timeout=timeout, metadata=args[0], credentials=args[1],
                                                  wait_for_ready=args[2], compression=args[3])

    def __await__(self) -> Generator[Any, None, Any]:
        return self._run().__await__()

    async def _run(self) -> Any:
        owner = self._owner
        policy = owner.policy
        attempt = 0
        while True:
            try:
                response = await self._call
            except grpc.RpcError as err:
                raise policy.translate(err, owner.name, self._timeout) from err
            if response.status.code != THROTTLED or not policy.throttle_retries:
                return response
            attempt += 1
            remaining = None if self._deadline is None else self._deadline - time.monotonic()
            delay = policy.throttle_delay(attempt, remaining)
            if delay is None:
                return response
            policy.log_throttle(owner.name, attempt, delay)
            await asyncio.sleep(delay)
            timeout = None if self._deadline is None else max(self._deadline - time.monotonic(), 0.001)
            args = self._args
            self._call = owner.bound.get(owner.name)(self._request, timeout=timeout, metadata=args[0],
                                                      credentials=args[1], wait_for_ready=args[2],
                                                      compression=args[3])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _AioUnaryUnary(grpc.aio.UnaryUnaryMultiCallable):  # type: ignore[misc]
    __slots__ = ("bound", "name", "policy", "rule")

    def __init__(self, bound: _Bound, method: str, policy: CallPolicy) -> None:
        self.bound = bound
        self.policy = policy
        self.rule = rule_for(method)
        self.name = self.rule.name or method

    def __call__(self, request: Any, *, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Optional[bool] = None, compression: Any = None) -> Any:
        policy = self.policy
        policy.check_request(self.rule, request)
        if timeout is None:
            timeout = policy.default_timeout
        return _AioUnaryUnaryCall(self, request, timeout,
                                  (policy.merge_metadata(metadata), credentials, wait_for_ready, compression))


class _AioStreaming:
    """Shared body of the three streaming kinds: no default deadline, calls returned as they are."""

    __slots__ = ("bound", "name", "policy", "rule")

    def __init__(self, bound: _Bound, method: str, policy: CallPolicy) -> None:
        self.bound = bound
        self.policy = policy
        self.rule = rule_for(method)
        self.name = self.rule.name or method

    def _call(self, request: Any, request_is_message: bool, timeout: Optional[float], metadata: Any,
              credentials: Any, wait_for_ready: Optional[bool], compression: Any) -> Any:
        self.policy.check_request(self.rule, request if request_is_message else None)
        return self.bound.get(self.name)(request, timeout=timeout, metadata=self.policy.merge_metadata(metadata),
                                         credentials=credentials, wait_for_ready=wait_for_ready,
                                         compression=compression)


class _AioUnaryStream(_AioStreaming, grpc.aio.UnaryStreamMultiCallable):  # type: ignore[misc]
    __slots__ = ()

    def __call__(self, request: Any, *, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Optional[bool] = None, compression: Any = None) -> Any:
        return self._call(request, True, timeout, metadata, credentials, wait_for_ready, compression)


class _AioStreamUnary(_AioStreaming, grpc.aio.StreamUnaryMultiCallable):  # type: ignore[misc]
    __slots__ = ()

    def __call__(self, request_iterator: Any = None, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Optional[bool] = None, compression: Any = None) -> Any:
        return self._call(request_iterator, False, timeout, metadata, credentials, wait_for_ready, compression)


class _AioStreamStream(_AioStreaming, grpc.aio.StreamStreamMultiCallable):  # type: ignore[misc]
    __slots__ = ()

    def __call__(self, request_iterator: Any = None, timeout: Optional[float] = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Optional[bool] = None, compression: Any = None) -> Any:
        return self._call(request_iterator, False, timeout, metadata, credentials, wait_for_ready, compression)


class AioPolicyChannel(grpc.aio.Channel):  # type: ignore[misc]
    """The asyncio channel returned by the aio factories."""

    def __init__(self, make_channel: ChannelMaker, policy: CallPolicy, description: str) -> None:
        self._make_channel = make_channel
        self._policy = policy
        self._description = description
        self._channels: dict[asyncio.AbstractEventLoop, grpc.aio.Channel] = {}

    @property
    def policy(self) -> CallPolicy:
        return self._policy

    def channel_for(self, loop: asyncio.AbstractEventLoop) -> grpc.aio.Channel:
        """The real grpc.aio channel of ``loop``, created on first use; channels of closed loops go."""
        channel = self._channels.get(loop)
        if channel is None:
            for old in [old for old in self._channels if old.is_closed()]:
                del self._channels[old]
            channel = self._make_channel()
            self._channels[loop] = channel
        return channel

    def _current(self, what: str) -> grpc.aio.Channel:
        return self.channel_for(_running_loop(what))

    def _bound(self, kind: str, method: str, request_serializer: Any, response_deserializer: Any,
               kwargs: dict[str, Any]) -> _Bound:
        return _Bound(self, kind, (method, request_serializer, response_deserializer, kwargs))

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    **kwargs: Any) -> _AioUnaryUnary:
        bound = self._bound("unary_unary", method, request_serializer, response_deserializer, kwargs)
        return _AioUnaryUnary(bound, method, self._policy)

    def unary_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                     **kwargs: Any) -> _AioUnaryStream:
        bound = self._bound("unary_stream", method, request_serializer, response_deserializer, kwargs)
        return _AioUnaryStream(bound, method, self._policy)

    def stream_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                     **kwargs: Any) -> _AioStreamUnary:
        bound = self._bound("stream_unary", method, request_serializer, response_deserializer, kwargs)
        return _AioStreamUnary(bound, method, self._policy)

    def stream_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                      **kwargs: Any) -> _AioStreamStream:
        bound = self._bound("stream_stream", method, request_serializer, response_deserializer, kwargs)
        return _AioStreamStream(bound, method, self._policy)

    async def close(self, grace: Optional[float] = None) -> None:
        loop = asyncio.get_running_loop()
        channels, self._channels = self._channels, {}
        for owner, channel in channels.items():
            if owner is loop:
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

"""A grpc.Channel that applies a CallPolicy to every call: the sync half of the factory."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Optional

import grpc

from clarifai_client._call_policy import THROTTLED, CallPolicy, checked_timeout
from clarifai_client._method_rules import LazyRule

__all__ = ["PolicyChannel"]

if TYPE_CHECKING:  # the stubs' multicallables are generic; grpc's runtime classes are not
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable[Any, Any]
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable[Any, Any]
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable[Any, Any]
    _StreamStreamBase = grpc.StreamStreamMultiCallable[Any, Any]
else:
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable
    _StreamStreamBase = grpc.StreamStreamMultiCallable


class _UnaryUnary(LazyRule, _UnaryUnaryBase):
    __slots__ = ("_inner", "_path", "_policy", "_rule_cache")

    def __init__(
        self, inner: _UnaryUnaryBase, method: str, policy: CallPolicy
    ) -> None:
        self._inner = inner
        self._path = method
        self._policy = policy
        self._rule_cache = None

    def __call__(
        self,
        request: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        response, _ = self._invoke(
            self._inner, request, timeout, metadata, credentials, wait_for_ready, compression, False
        )
        return response

    def with_call(
        self,
        request: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        return self._invoke(
            self._inner.with_call,
            request,
            timeout,
            metadata,
            credentials,
            wait_for_ready,
            compression,
            True,
        )

    def future(
        self,
        request: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        policy = self._policy
        timeout = checked_timeout(timeout)
        request, md = policy.prepare(self.rule, request, metadata)
        if timeout is None:
            timeout = policy.default_timeout
        return self._inner.future(
            request,
            timeout,
            md,
            credentials,
            wait_for_ready,
            compression,
        )

    def _invoke(
        self,
        fn: Callable[..., Any],
        request: Any,
        timeout: Optional[float],
        metadata: Any,
        credentials: Any,
        wait_for_ready: Optional[bool],
        compression: Any,
        with_call: bool,
    ) -> Any:
        policy = self._policy
        timeout = checked_timeout(timeout)
        rule = self.rule
        request, md = policy.prepare(rule, request, metadata)
        if timeout is None:
            timeout = policy.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            try:
                result = fn(request, timeout, md, credentials, wait_for_ready, compression)
            except grpc.RpcError as err:
                raise policy.translate(err, self.name, timeout) from err
            response = result[0] if with_call else result
            if not policy.throttle_retries or not rule.name or response.status.code != THROTTLED:
                return result if with_call else (result, None)
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            delay = policy.throttle_delay(attempt, remaining)
            if delay is None:
                return result if with_call else (result, None)
            policy.log_throttle(self.name, attempt, delay)
            time.sleep(delay)
            if deadline is not None:
                timeout = max(deadline - time.monotonic(), 0.001)


class _UnaryStream(LazyRule, _UnaryStreamBase):
    __slots__ = ("_inner", "_path", "_policy", "_rule_cache")

    def __init__(
        self, inner: _UnaryStreamBase, method: str, policy: CallPolicy
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._path = method
        self._rule_cache = None

    def __call__(
        self,
        request: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        timeout = checked_timeout(timeout)
        request, md = self._policy.prepare(self.rule, request, metadata)
        return self._inner(
            request,
            timeout,
            md,
            credentials,
            wait_for_ready,
            compression,
        )


class _StreamUnary(LazyRule, _StreamUnaryBase):
    __slots__ = ("_inner", "_path", "_policy", "_rule_cache")

    def __init__(
        self, inner: _StreamUnaryBase, method: str, policy: CallPolicy
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._path = method
        self._rule_cache = None

    def _prepare(self, request_iterator: Any, metadata: Any) -> tuple[Any, Any]:
        return self._policy.prepare(self.rule, request_iterator, metadata, stream=True)

    def __call__(
        self,
        request_iterator: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        timeout = checked_timeout(timeout)
        requests, md = self._prepare(request_iterator, metadata)
        try:
            return self._inner(requests, timeout, md, credentials, wait_for_ready, compression)
        except grpc.RpcError as err:
            raise self._policy.translate(err, self.name, timeout) from err

    def with_call(
        self,
        request_iterator: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        timeout = checked_timeout(timeout)
        requests, md = self._prepare(request_iterator, metadata)
        try:
            return self._inner.with_call(
                requests, timeout, md, credentials, wait_for_ready, compression
            )
        except grpc.RpcError as err:
            raise self._policy.translate(err, self.name, timeout) from err

    def future(
        self,
        request_iterator: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        timeout = checked_timeout(timeout)
        requests, md = self._prepare(request_iterator, metadata)
        return self._inner.future(requests, timeout, md, credentials, wait_for_ready, compression)


class _StreamStream(LazyRule, _StreamStreamBase):
    __slots__ = ("_inner", "_path", "_policy", "_rule_cache")

    def __init__(
        self, inner: _StreamStreamBase, method: str, policy: CallPolicy
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._path = method
        self._rule_cache = None

    def __call__(
        self,
        request_iterator: Any,
        timeout: Optional[float] = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: Optional[bool] = None,
        compression: Any = None,
    ) -> Any:
        timeout = checked_timeout(timeout)
        requests, md = self._policy.prepare(self.rule, request_iterator, metadata, stream=True)
        return self._inner(
            requests,
            timeout,
            md,
            credentials,
            wait_for_ready,
            compression,
        )


class PolicyChannel(grpc.Channel):
    """Wraps a real grpc.Channel; stubs built on it get multicallables that apply the policy."""

    def __init__(self, inner: grpc.Channel, policy: CallPolicy, description: str) -> None:
        self._inner = inner
        self._policy = policy
        self._description = description

    @property
    def policy(self) -> CallPolicy:
        return self._policy

    @property
    def inner_channel(self) -> grpc.Channel:
        """The underlying grpc channel (calls made on it skip this package's policy)."""
        return self._inner

    def _multicallable(
        self, kind: str, method: str, request_serializer: Any, response_deserializer: Any, kwargs: dict[str, Any]
    ) -> Any:
        serializer = self._policy.serializer(request_serializer)
        return getattr(self._inner, kind)(method, serializer, response_deserializer, **kwargs)

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _UnaryUnary:
        inner = self._multicallable("unary_unary", method, request_serializer, response_deserializer, kwargs)
        return _UnaryUnary(inner, method, self._policy)

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _UnaryStream:
        inner = self._multicallable("unary_stream", method, request_serializer, response_deserializer, kwargs)
        return _UnaryStream(inner, method, self._policy)

    def stream_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _StreamUnary:
        inner = self._multicallable("stream_unary", method, request_serializer, response_deserializer, kwargs)
        return _StreamUnary(inner, method, self._policy)

    def stream_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        **kwargs: Any,
    ) -> _StreamStream:
        inner = self._multicallable("stream_stream", method, request_serializer, response_deserializer, kwargs)
        return _StreamStream(inner, method, self._policy)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._inner.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._inner.unsubscribe(callback)

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> PolicyChannel:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ClarifaiChannel {self._description}>"

"""Small purpose-built gRPC servers on 127.0.0.1 that record what arrives and answer as scripted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import grpc
from google.protobuf import message_factory

from clarifai_client.grpc.api import service_pb2
from clarifai_client.grpc.api.status import status_code_pb2, status_pb2

V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]
# V2 has no stream-unary RPC; this extra route lets tests cover that call kind too.
STREAM_UNARY_PATH = "/clarifai.api.V2/TestStreamUnary"

Handler = Callable[[Any, grpc.ServicerContext], Any]


@dataclass
class RecordedCall:
    method: str
    metadata: list[tuple[str, str]]
    request: Any
    time_remaining: Optional[float]

    def header(self, key: str) -> list[str]:
        return [v for k, v in self.metadata if k == key]


@dataclass
class RecordingServer:
    """A V2 server whose methods are scripted by tests; it records every call.

    ``handlers`` maps a method name to ``fn(request_or_iterator, context) -> response | iterator``.
    Unscripted methods answer a SUCCESS response of their output type (a stream of two for
    server-streaming methods).
    """

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    max_workers: int = 16
    options: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: Any = None
    port: int = 0
    ended: threading.Event = field(default_factory=threading.Event)  # set when any RPC ends

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def calls_to(self, name: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == name]

    def _record(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls.append(
                RecordedCall(name, [(m.key, m.value) for m in context.invocation_metadata()], request,
                             _remaining(context))
            )

    def _default(self, method: Any) -> Handler:
        out_cls = _message_class(method.output_type)

        def ok(_request: Any, _context: grpc.ServicerContext) -> Any:
            return out_cls(status=status_pb2.Status(code=status_code_pb2.SUCCESS, req_id="test-req"))

        if method.server_streaming:
            def stream(_request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                yield ok(_request, context)
                yield ok(_request, context)
            return stream
        return ok

    def _wrap(self, name: str, fn: Handler, client_streaming: bool) -> Handler:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            context.add_callback(self.ended.set)
            self._record(name, None if client_streaming else request, context)
            return fn(request, context)
        return handler

    def start(self) -> RecordingServer:
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        for method in V2.methods:
            in_cls, out_cls = _message_class(method.input_type), _message_class(method.output_type)
            fn = self._wrap(method.name, self.handlers.get(method.name) or self._default(method),
                            method.client_streaming)
            make = {
                (False, False): grpc.unary_unary_rpc_method_handler,
                (False, True): grpc.unary_stream_rpc_method_handler,
                (True, False): grpc.stream_unary_rpc_method_handler,
                (True, True): grpc.stream_stream_rpc_method_handler,
            }[(method.client_streaming, method.server_streaming)]
            handlers[method.name] = make(fn, request_deserializer=in_cls.FromString,
                                         response_serializer=out_cls.SerializeToString)
        su = self.handlers.get("TestStreamUnary") or (
            lambda reqs, ctx: service_pb2.MultiOutputResponse(
                status=status_pb2.Status(code=status_code_pb2.SUCCESS,
                                         description=f"{sum(1 for _ in reqs)} requests")
            )
        )
        handlers["TestStreamUnary"] = grpc.stream_unary_rpc_method_handler(
            self._wrap("TestStreamUnary", su, True),
            request_deserializer=service_pb2.PostModelOutputsRequest.FromString,
            response_serializer=service_pb2.MultiOutputResponse.SerializeToString,
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.max_workers), options=self.options)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V2.full_name, handlers),))
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(None)
            self._server = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _remaining(context: grpc.ServicerContext) -> Optional[float]:
    """Seconds left before the call's deadline, or None when the caller set no deadline."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining > 1e9 else remaining


def _message_class(descriptor: Any) -> Any:
    return message_factory.GetMessageClass(descriptor)


def status_response(cls: Any, code: int, description: str = "", req_id: str = "test-req", **fields: Any) -> Any:
    """A response of ``cls`` with the given in-band status code."""
    return cls(status=status_pb2.Status(code=code, description=description, req_id=req_id), **fields)

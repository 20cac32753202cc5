"""Route every V2 method: implemented ones through auth to a handler, the rest to UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable, Optional

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from clarifai_client.grpc.api import resources_pb2, service_pb2
from clarifai_client.grpc.auth.types import types_pb2
from clarifai_client.grpc.auth.util import extension_pb2
from clarifai_client.testing import _models
from clarifai_client.testing._auth import Caller, Credentials
from clarifai_client.testing._calls import CallLog
from clarifai_client.testing._handlers import IMPLEMENTED_METHODS, METHOD_SCOPES, Handlers
from clarifai_client.testing._status import InBandError

__all__ = ["SERVICE_NAME", "Router", "unimplemented_details", "v2_methods"]

SERVICE_NAME = "clarifai.api.V2"
Behavior = Callable[[Any, Any], Any]


def v2_methods() -> tuple[MethodDescriptor, ...]:
    """Every method of the V2 service, in proto order."""
    return tuple(service_pb2.DESCRIPTOR.services_by_name["V2"].methods)


def unimplemented_details(method: str) -> str:
    """The gRPC details an unimplemented method answers with."""
    return f"clarifai_client.testing does not implement {method}"


def _pat_only(method: MethodDescriptor) -> bool:
    auth_type = method.GetOptions().Extensions[extension_pb2.cl_auth_type]
    return bool(auth_type == types_pb2.PATAuth)


def _user_app_id(request: Message) -> Optional[resources_pb2.UserAppIDSet]:
    if "user_app_id" not in request.DESCRIPTOR.fields_by_name:
        return None
    value = getattr(request, "user_app_id")  # noqa: B009 - not every request has the field
    assert isinstance(value, resources_pb2.UserAppIDSet)
    return value


class Router:
    """Builds the server's generic handler over the handlers, the credentials and the call log."""

    def __init__(self, handlers: Handlers, credentials: Credentials, log: CallLog) -> None:
        self._handlers = handlers
        self._credentials = credentials
        self._log = log

    def generic_handler(self) -> grpc.GenericRpcHandler:
        """A ``grpc.GenericRpcHandler`` serving all V2 methods."""
        table = {}
        for method in v2_methods():
            request_cls = message_factory.GetMessageClass(method.input_type)
            response_cls = message_factory.GetMessageClass(method.output_type)
            if method.name not in IMPLEMENTED_METHODS:
                behavior = self._unimplemented(method.name, method.client_streaming)
            elif method.name == "GenerateModelOutputs":
                behavior = self._generate
            elif method.name == "StreamModelOutputs":
                behavior = self._stream
            else:
                behavior = self._unary(method, response_cls)
            factory = {
                (False, False): grpc.unary_unary_rpc_method_handler,
                (False, True): grpc.unary_stream_rpc_method_handler,
                (True, False): grpc.stream_unary_rpc_method_handler,
                (True, True): grpc.stream_stream_rpc_method_handler,
            }[(method.client_streaming, method.server_streaming)]
            table[method.name] = factory(
                behavior,
                request_deserializer=request_cls.FromString,
                response_serializer=response_cls.SerializeToString,
            )
        return grpc.method_handlers_generic_handler(SERVICE_NAME, table)

    def _authorize(self, name: str, pat_only: bool, request: Message, context: grpc.ServicerContext) -> Caller:
        metadata = tuple(context.invocation_metadata())
        self._log.record(name, metadata, request)
        return self._credentials.authorize(name, metadata, _user_app_id(request), METHOD_SCOPES[name], pat_only)

    def _unary(self, method: MethodDescriptor, response_cls: type[Message]) -> Behavior:
        name = method.name
        pat_only = _pat_only(method)
        handler: Callable[[Message, Caller], Message] = getattr(self._handlers, name)

        def behavior(request: Message, context: grpc.ServicerContext) -> Message:
            try:
                return handler(request, self._authorize(name, pat_only, request, context))
            except InBandError as err:
                response = response_cls()
                response.status.CopyFrom(err.status())  # type: ignore[attr-defined]
                return response

        return behavior

    def _generate(
        self, request: service_pb2.PostModelOutputsRequest, context: grpc.ServicerContext
    ) -> Iterator[service_pb2.MultiOutputResponse]:
        try:
            self._authorize("GenerateModelOutputs", False, request, context)
            return _models.generate(request)
        except InBandError as err:
            return iter([service_pb2.MultiOutputResponse(status=err.status())])

    def _stream(
        self, requests: Iterator[service_pb2.PostModelOutputsRequest], context: grpc.ServicerContext
    ) -> Iterator[service_pb2.MultiOutputResponse]:
        for request in requests:
            try:
                self._authorize("StreamModelOutputs", False, request, context)
                yield _models.predict(request)
            except InBandError as err:
                yield service_pb2.MultiOutputResponse(status=err.status())

    def _unimplemented(self, name: str, client_streaming: bool) -> Behavior:
        details = unimplemented_details(name)

        def behavior(request: Any, context: grpc.ServicerContext) -> None:
            self._log.record(name, tuple(context.invocation_metadata()), None if client_streaming else request)
            context.abort(grpc.StatusCode.UNIMPLEMENTED, details)

        return behavior

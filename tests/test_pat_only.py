"""PAT-only methods are refused locally for API-key channels, sync and aio, read from descriptors."""

from __future__ import annotations

import asyncio

import pytest
from servers import RecordingServer

from clarifai_client import Auth, ClarifaiChannel, PatRequiredError
from clarifai_client.grpc.api import service_pb2, service_pb2_grpc
from clarifai_client.grpc.auth.types import types_pb2
from clarifai_client.grpc.auth.util import extension_pb2

V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]
PAT_ONLY = [m for m in V2.methods if m.GetOptions().Extensions[extension_pb2.cl_auth_type] == types_pb2.PATAuth]
KEY = "pat-only-test-key-5e4d"


def _request(method):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(method.input_type)()


def _invoke_sync(stub, method):
    call = getattr(stub, method.name)
    request = _request(method)
    if method.client_streaming:
        result = call(iter([request]))
    else:
        result = call(request)
    if method.server_streaming:
        list(result)
    return result


def test_the_api_has_pat_only_methods() -> None:
    names = {m.name for m in PAT_ONLY}
    assert len(PAT_ONLY) == 78
    assert {"ListApps", "PostKeys", "GetUser"} <= names


def test_every_pat_only_method_is_refused_before_io_sync() -> None:
    with RecordingServer() as server:
        channel = ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY))
        stub = service_pb2_grpc.V2Stub(channel)
        for method in PAT_ONLY:
            with pytest.raises(PatRequiredError) as info:
                _invoke_sync(stub, method)
            message = str(info.value)
            assert method.name in message and "Personal Access Token" in message and KEY not in message
        assert server.calls == []
        channel.close()


def test_every_pat_only_method_is_refused_before_io_aio() -> None:
    async def scenario(address: str) -> None:
        channel = ClarifaiChannel.get_aio_insecure_grpc_channel(address, auth=Auth.from_api_key(KEY))
        stub = service_pb2_grpc.V2Stub(channel)
        for method in PAT_ONLY:
            call = getattr(stub, method.name)
            request = _request(method)

            async def requests(req=request):
                yield req

            with pytest.raises(PatRequiredError, match=method.name):
                result = call(requests()) if method.client_streaming else call(request)
                if method.server_streaming:
                    async for _ in result:
                        pass
                else:
                    await result
        await channel.close()

    with RecordingServer() as server:
        asyncio.run(scenario(server.address))
        assert server.calls == []


def test_pat_only_methods_work_with_a_pat() -> None:
    with RecordingServer() as server:
        channel = ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(KEY, user_id="me"))
        stub = service_pb2_grpc.V2Stub(channel)
        stub.ListApps(service_pb2.ListAppsRequest())
        stub.GetUser(service_pb2.GetUserRequest())
        assert [c.method for c in server.calls] == ["ListApps", "GetUser"]
        assert server.calls[0].request.user_app_id.user_id == "me"
        channel.close()


def test_key_auth_methods_still_work_with_an_api_key() -> None:
    with RecordingServer() as server:
        channel = ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY))
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
        assert [c.method for c in server.calls] == ["ListInputs"]
        channel.close()

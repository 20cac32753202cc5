"""What a factory channel must not do: change the caller's request, or get in the way of calls it
does not own (other services, the caller's own credentials)."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from google.protobuf import wrappers_pb2
from servers import RecordingServer

from clarifai_client import Auth, ClarifaiChannel, ClarifaiConfigError
from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

PAT = "integrity-pat-1f2e3d4c"
KEY = "integrity-key-9a8b7c6d"


@pytest.fixture
def server():
    with RecordingServer() as srv:
        yield srv


def test_pat_user_app_id_goes_on_the_wire_but_the_request_object_is_unchanged(server: RecordingServer) -> None:
    request = service_pb2.ListInputsRequest(per_page=5)
    before = request.SerializeToString()
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(PAT, "u1", "a1")) as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(request)
    assert request.SerializeToString() == before and not request.HasField("user_app_id")
    sent = server.calls[0].request
    assert (sent.user_app_id.user_id, sent.user_app_id.app_id, sent.per_page) == ("u1", "a1", 5)


def test_one_request_reused_on_two_pat_channels_carries_each_channels_app(server: RecordingServer) -> None:
    request = service_pb2.ListInputsRequest()
    for user, app in (("alice", "app-a"), ("bob", "app-b")):
        auth = Auth.from_pat(PAT, user, app)
        with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=auth) as channel:
            service_pb2_grpc.V2Stub(channel).ListInputs(request)
    assert [(c.request.user_app_id.user_id, c.request.user_app_id.app_id) for c in server.calls] == [
        ("alice", "app-a"), ("bob", "app-b"),
    ]


def test_a_refused_call_leaves_the_request_usable(server: RecordingServer) -> None:
    request = service_pb2.ListInputsRequest()
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(PAT, "u1")) as channel:
        with pytest.raises(ClarifaiConfigError, match="app_id"):
            service_pb2_grpc.V2Stub(channel).ListInputs(request)
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(PAT, "u1", "a1")) as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(request)
    assert server.calls[0].request.user_app_id.app_id == "a1"


def test_an_explicit_user_app_id_is_kept(server: RecordingServer) -> None:
    request = service_pb2.ListInputsRequest(user_app_id=resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main"))
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(PAT, "u1", "a1")) as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(request)
    assert server.calls[0].request.user_app_id == resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main")


def test_client_stream_messages_are_filled_on_the_wire_only(server: RecordingServer) -> None:
    received = []

    def bidi(requests, context):
        for req in requests:
            received.append(req)
            yield service_pb2.MultiOutputResponse()

    server.stop()
    server.handlers["StreamModelOutputs"] = bidi
    server.start()
    messages = [service_pb2.PostModelOutputsRequest(model_id=str(i)) for i in range(3)]
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_pat(PAT, "u1", "a1")) as channel:
        list(service_pb2_grpc.V2Stub(channel).StreamModelOutputs(iter(messages)))
    assert [m.HasField("user_app_id") for m in messages] == [False, False, False]
    assert [(r.model_id, r.user_app_id.app_id) for r in received] == [("0", "a1"), ("1", "a1"), ("2", "a1")]


def test_callers_own_pat_is_not_refused_on_an_api_key_channel(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY)) as channel:
        service_pb2_grpc.V2Stub(channel).ListApps(service_pb2.ListAppsRequest(),
                                                  metadata=(("authorization", f"Key {PAT}"),))
    call = server.calls_to("ListApps")[0]
    assert call.header("authorization") == [f"Key {PAT}"]
    assert not call.request.HasField("user_app_id")


def test_bytes_authorization_is_accepted_like_grpc_does(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest(),
                                                    metadata=(("authorization", f"Key {KEY}".encode()),))
    assert server.calls[0].header("authorization") == [f"Key {KEY}"]


def test_a_bad_metadata_key_is_never_echoed() -> None:
    channel = ClarifaiChannel.get_insecure_grpc_channel("127.0.0.1:1")
    with pytest.raises(ClarifaiConfigError, match="not a valid gRPC header name") as info:
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest(),
                                                    metadata=((f"Key {KEY}", "authorization"),))
    assert KEY not in str(info.value)
    channel.close()


def test_other_services_on_a_factory_channel_work() -> None:
    """A non-V2 method (e.g. a health check or a custom service sharing the channel)."""
    handler = grpc.method_handlers_generic_handler(
        "my.Svc",
        {"Echo": grpc.unary_unary_rpc_method_handler(
            lambda req, ctx: req,
            request_deserializer=wrappers_pb2.StringValue.FromString,
            response_serializer=wrappers_pb2.StringValue.SerializeToString,
        )},
    )
    other = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    other.add_generic_rpc_handlers((handler,))
    port = other.add_insecure_port("127.0.0.1:0")
    other.start()
    try:
        with ClarifaiChannel.get_insecure_grpc_channel(f"127.0.0.1:{port}", auth=Auth.from_api_key(KEY)) as channel:
            echo = channel.unary_unary("/my.Svc/Echo", request_serializer=wrappers_pb2.StringValue.SerializeToString,
                                       response_deserializer=wrappers_pb2.StringValue.FromString)
            assert echo(wrappers_pb2.StringValue(value="hi")).value == "hi"
    finally:
        other.stop(None)

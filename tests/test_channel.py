"""Channel factories: published signatures, base/env handling, defaults, identity and auth metadata."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import grpc
import pytest
from servers import RecordingServer, status_response

import clarifai_client
from clarifai_client import DEFAULTS, Auth, ChannelDefaults, ClarifaiChannel, ClarifaiConfigError
from clarifai_client.channel import clarifai_channel as channel_module
from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_client.grpc.api.status import status_code_pb2

KEY = "chan-test-key-9a8b7c"
FACTORIES = ("get_grpc_channel", "get_insecure_grpc_channel", "get_aio_grpc_channel", "get_aio_insecure_grpc_channel")


@pytest.fixture
def server():
    with RecordingServer() as srv:
        yield srv


def _published_signatures() -> dict[str, list[list[object]]]:
    code = textwrap.dedent(
        f"""
        import inspect, json
        from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
        out = {{}}
        for name in {FACTORIES!r}:
            sig = inspect.signature(getattr(ClarifaiChannel, name))
            out[name] = [[p.name, p.default] for p in sig.parameters.values()]
        print(json.dumps(out))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_factories_keep_the_published_positional_signatures() -> None:
    published = _published_signatures()
    for name in FACTORIES:
        ours = inspect.signature(getattr(ClarifaiChannel, name)).parameters.values()
        positional = [p.name for p in ours if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == [p[0] for p in published[name]], name
        extras = [p.name for p in ours if p.kind is p.KEYWORD_ONLY]
        assert {"auth", "options", "default_timeout", "defaults"} <= set(extras)


def test_exported_at_both_paths() -> None:
    assert clarifai_client.ClarifaiChannel is channel_module.ClarifaiChannel


def test_insecure_channel_reaches_server_with_identity_and_auth(server: RecordingServer) -> None:
    channel = ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY))
    stub = service_pb2_grpc.V2Stub(channel)
    response = stub.PostModelOutputs(service_pb2.PostModelOutputsRequest(model_id="m"))
    assert response.status.code == status_code_pb2.SUCCESS
    call = server.calls_to("PostModelOutputs")[0]
    assert call.header("authorization") == [f"Key {KEY}"]
    assert call.header("x-clarifai-request-id-prefix") == [f"clarifai-client-{clarifai_client.__version__}"]
    assert f"clarifai-client/{clarifai_client.__version__}" in call.header("user-agent")[0]
    channel.close()


def test_every_call_carries_auth_without_the_caller_passing_it(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY)) as channel:
        stub = service_pb2_grpc.V2Stub(channel)
        stub.ListInputs(service_pb2.ListInputsRequest())
        stub.GetInput(service_pb2.GetInputRequest(input_id="x"))
        stub.ListConcepts(service_pb2.ListConceptsRequest())
    assert len(server.calls) == 3
    assert all(c.header("authorization") == [f"Key {KEY}"] for c in server.calls)


def test_callers_authorization_wins_and_is_never_doubled(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY)) as channel:
        stub = service_pb2_grpc.V2Stub(channel)
        stub.ListInputs(service_pb2.ListInputsRequest(), metadata=(("authorization", "Key caller-key"),))
    assert server.calls[0].header("authorization") == ["Key caller-key"]


def test_without_auth_the_published_usage_passes_metadata_per_call(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
        stub = service_pb2_grpc.V2Stub(channel)
        stub.ListInputs(service_pb2.ListInputsRequest(), metadata=(("authorization", f"Key {KEY}"),))
    assert server.calls[0].header("authorization") == [f"Key {KEY}"]


def test_base_env_is_read_when_the_factory_is_called(server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.address)
    with ClarifaiChannel.get_insecure_grpc_channel() as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
    assert len(server.calls) == 1


def test_base_with_port_is_not_given_a_second_port(server: RecordingServer) -> None:
    channel = ClarifaiChannel.get_insecure_grpc_channel(server.address)
    assert channel.policy.target == server.address
    secure = ClarifaiChannel.get_grpc_channel("example.invalid:8443")
    assert secure.policy.target == "example.invalid:8443"
    assert ClarifaiChannel.get_grpc_channel().policy.target == "api.clarifai.com:443"
    assert ClarifaiChannel.get_insecure_grpc_channel("localhost").policy.target == "localhost:18080"
    for ch in (channel, secure):
        ch.close()


@pytest.mark.parametrize("base", ["https://api.clarifai.com", "api.clarifai.com/v2", "grpc://h:1"])
@pytest.mark.parametrize("factory", FACTORIES)
def test_scheme_or_path_is_a_value_error_naming_the_form(factory: str, base: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        getattr(ClarifaiChannel, factory)(base)


def test_factories_leave_module_state_untouched(server: RecordingServer) -> None:
    before = {k: id(v) for k, v in vars(channel_module).items()}
    ClarifaiChannel.get_insecure_grpc_channel(server.address).close()
    ClarifaiChannel.get_grpc_channel().close()
    assert {k: id(v) for k, v in vars(channel_module).items()} == before


def test_defaults_are_named_and_documented() -> None:
    assert DEFAULTS.max_receive_message_length == DEFAULTS.max_send_message_length == 1024**3
    config = json.loads(DEFAULTS.service_config())["methodConfig"][0]
    assert config["name"] == [{"service": "clarifai.api.V2"}]
    assert config["retryPolicy"] == {
        "maxAttempts": 5, "initialBackoff": "0.01s", "maxBackoff": "5.0s",
        "backoffMultiplier": 2.0, "retryableStatusCodes": ["UNAVAILABLE"],
    }
    assert ChannelDefaults.__doc__ and "default_timeout" in ChannelDefaults.__doc__


def test_default_receive_limit_allows_more_than_grpc_default(server: RecordingServer) -> None:
    big = 6 * 1024 * 1024  # grpc's own default receive limit is 4 MiB
    server.stop()
    server.handlers["GetInput"] = lambda req, ctx: status_response(
        service_pb2.SingleInputResponse, status_code_pb2.SUCCESS,
        input=resources_pb2.Input(id="big", data=resources_pb2.Data(image=resources_pb2.Image(base64=b"x" * big))),
    )
    server.options = [("grpc.max_send_message_length", -1)]
    server.start()
    with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
        response = service_pb2_grpc.V2Stub(channel).GetInput(service_pb2.GetInputRequest(input_id="big"))
    assert len(response.input.data.image.base64) == big


def test_caller_options_override_defaults(server: RecordingServer) -> None:
    server.handlers["GetInput"] = lambda req, ctx: status_response(
        service_pb2.SingleInputResponse, status_code_pb2.SUCCESS, input=resources_pb2.Input(id="x" * 4096)
    )
    server.stop()
    server.start()
    options = [("grpc.max_receive_message_length", 1024)]
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, options=options) as channel:
        with pytest.raises(grpc.RpcError) as info:
            service_pb2_grpc.V2Stub(channel).GetInput(service_pb2.GetInputRequest(input_id="x"))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_default_unary_deadline_is_applied(server: RecordingServer) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, default_timeout=7.5) as channel:
        stub = service_pb2_grpc.V2Stub(channel)
        stub.ListInputs(service_pb2.ListInputsRequest())
        stub.ListInputs(service_pb2.ListInputsRequest(), timeout=30)
    first, second = server.calls
    assert first.time_remaining is not None and 6 < first.time_remaining <= 8
    assert second.time_remaining is not None and 28 < second.time_remaining <= 31


def test_bad_options_and_defaults_are_clear_errors() -> None:
    with pytest.raises(ClarifaiConfigError, match="pairs"):
        ClarifaiChannel.get_insecure_grpc_channel("localhost:1", options=["grpc.x"])  # type: ignore[list-item]
    with pytest.raises(ClarifaiConfigError, match="default_timeout"):
        ClarifaiChannel.get_insecure_grpc_channel("localhost:1", default_timeout=-1)
    with pytest.raises(ClarifaiConfigError, match="auth must be an Auth"):
        ClarifaiChannel.get_insecure_grpc_channel("localhost:1", auth="Key abc")  # type: ignore[arg-type]


def test_repr_shows_target_and_masked_auth(server: RecordingServer) -> None:
    channel = ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY))
    text = repr(channel)
    assert server.address in text and "api_key" in text and KEY not in text
    channel.close()


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0, -1, "5"])
def test_default_timeout_must_be_positive_and_finite(value: object) -> None:
    with pytest.raises(ClarifaiConfigError, match="default_timeout"):
        ClarifaiChannel.get_insecure_grpc_channel("localhost:1", default_timeout=value)  # type: ignore[arg-type]


def test_query_in_base_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="query") as info:
        ClarifaiChannel.get_insecure_grpc_channel("127.0.0.1:1?key=ZZSECRETzz")
    assert "ZZSECRET" not in str(info.value)


def test_plaintext_server_behind_a_tls_channel_gets_a_plaintext_hint(server: RecordingServer) -> None:
    with ClarifaiChannel.get_grpc_channel(server.address, default_timeout=5) as channel:
        with pytest.raises(clarifai_client.ClarifaiRpcError) as info:
            service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
    assert "plaintext" in str(info.value) and "get_insecure_grpc_channel" in str(info.value)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e10, "5", True])
def test_per_call_timeout_is_checked_before_io(server: RecordingServer, value: object) -> None:
    with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
        stub = service_pb2_grpc.V2Stub(channel)
        with pytest.raises(ClarifaiConfigError, match="timeout must be a finite number"):
            stub.ListInputs(service_pb2.ListInputsRequest(), timeout=value)
        with pytest.raises(ClarifaiConfigError, match="timeout must be"):
            list(stub.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(), timeout=value))

    async def aio() -> None:
        channel = ClarifaiChannel.get_aio_insecure_grpc_channel(server.address)
        stub = service_pb2_grpc.V2Stub(channel)
        with pytest.raises(ClarifaiConfigError, match="timeout must be"):
            await stub.ListInputs(service_pb2.ListInputsRequest(), timeout=value)
        await channel.close()

    import asyncio

    asyncio.run(aio())
    assert server.calls == []


@pytest.mark.parametrize("value", [-1, -30])
def test_a_deadline_already_passed_fails_like_grpc(server: RecordingServer, value: float) -> None:
    """`timeout=deadline - time.time()` can go negative: a gRPC error, as in the published client.

    (0 is passed through too; gRPC itself may then still complete a very fast call.)
    """
    with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest(), timeout=value)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_auth_metadata_is_masked_in_reprs_but_sent_in_full(server: RecordingServer) -> None:
    auth = Auth.from_api_key(KEY)
    assert KEY not in repr(auth.metadata) and auth.metadata[0][1] == f"Key {KEY}"
    with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=auth) as channel:
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
        assert KEY not in repr(channel.policy.base_metadata)
    assert server.calls[0].header("authorization") == [f"Key {KEY}"]


def test_empty_metadata_key_is_a_clear_error() -> None:
    with ClarifaiChannel.get_insecure_grpc_channel("127.0.0.1:1") as channel:
        with pytest.raises(ClarifaiConfigError, match="metadata key is empty"):
            service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest(), metadata=(("", "x"),))


def test_message_limits_must_fit_grpc() -> None:
    with pytest.raises(ClarifaiConfigError, match="max_receive_message_length"):
        DEFAULTS.replace(max_receive_message_length=2**40)


def test_a_port_given_as_digits_works_as_in_the_published_client(server: RecordingServer) -> None:
    host, port = server.address.split(":")
    with ClarifaiChannel.get_insecure_grpc_channel(host, port) as channel:  # type: ignore[arg-type]
        service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
    assert len(server.calls) == 1


def test_extra_options_must_be_pairs() -> None:
    with pytest.raises(ClarifaiConfigError, match="extra_options"):
        DEFAULTS.replace(extra_options=("grpc.x",))

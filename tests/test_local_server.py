"""clarifai_client.testing.LocalV2Server, exercised over a real gRPC channel on 127.0.0.1."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from PIL import Image, ImageColor

from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_client.grpc.api.status import status_code_pb2
from clarifai_client.testing import (
    COLOR_MODEL_ID,
    DEFAULT_API_KEY,
    DEFAULT_APP_ID,
    DEFAULT_PAT,
    DEFAULT_USER_ID,
    IMPLEMENTED_METHODS,
    TEXT_MODEL_ID,
    LocalV2Server,
    unimplemented_details,
)
from clarifai_client.testing._colors import W3C_COLORS

S = status_code_pb2
SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample.jpg"
V2 = service_pb2.DESCRIPTOR.services_by_name["V2"]


class Client:
    """A stub on a plain insecure channel plus ready-made metadata for the server's tokens."""

    def __init__(self, server: LocalV2Server) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(server.address)
        self.stub = service_pb2_grpc.V2Stub(self.channel)
        self.key = (("authorization", "Key " + server.api_key),)
        self.pat = (("authorization", "Key " + server.pat),)
        self.pat_app = resources_pb2.UserAppIDSet(user_id="me", app_id=server.app_id)

    def call(self, method: str, request: Any, metadata: Any = None) -> Any:
        return getattr(self.stub, method)(request, metadata=self.key if metadata is None else metadata)


@pytest.fixture
def client() -> Iterator[Client]:
    with LocalV2Server() as server:
        c = Client(server)
        try:
            yield c
        finally:
            c.channel.close()


def png(size: tuple[int, int], color: tuple[int, int, int], right: Any = None) -> bytes:
    img = Image.new("RGB", size, color)
    if right is not None:
        img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def image_input(input_id: str = "", data: bytes = b"", url: str = "") -> resources_pb2.Input:
    return resources_pb2.Input(id=input_id, data=resources_pb2.Data(image=resources_pb2.Image(base64=data, url=url)))


def text_input(text: str, input_id: str = "") -> resources_pb2.Input:
    return resources_pb2.Input(id=input_id, data=resources_pb2.Data(text=resources_pb2.Text(raw=text)))


def predict(client: Client, *inputs: resources_pb2.Input, model_id: str = COLOR_MODEL_ID) -> Any:
    request = service_pb2.PostModelOutputsRequest(model_id=model_id, inputs=inputs)
    return client.call("PostModelOutputs", request)


# -- server object and credentials ---------------------------------------------------------


def test_defaults_and_address() -> None:
    with LocalV2Server() as server:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", server.address)
        assert server.port > 0 and server.address.endswith(f":{server.port}")
        assert (server.api_key, server.pat) == (DEFAULT_API_KEY, DEFAULT_PAT)
        assert (server.user_id, server.app_id) == (DEFAULT_USER_ID, DEFAULT_APP_ID)
    with pytest.raises(RuntimeError):
        server.start()  # a stopped server does not restart


def test_configured_credentials_are_the_only_ones_accepted() -> None:
    server = LocalV2Server(api_keys={"k1": ("alice", "photos")}, pats={"p1": "alice"})
    with pytest.raises(RuntimeError):
        _ = server.port  # not started yet
    with server:
        c = Client(server)
        assert (server.api_key, server.pat, server.user_id, server.app_id) == (
            "k1",
            "p1",
            "alice",
            "photos",
        )
        app = c.call("GetApp", service_pb2.GetAppRequest())
        assert app.status.code == S.SUCCESS and app.app.id == "photos" and app.app.user_id == "alice"
        default = (("authorization", "Key " + DEFAULT_API_KEY),)
        assert c.call("GetApp", service_pb2.GetAppRequest(), default).status.code == S.CONN_KEY_INVALID
        c.channel.close()


def test_bad_configuration_is_refused() -> None:
    from clarifai_client.errors import ClarifaiConfigError

    with pytest.raises(ClarifaiConfigError):
        LocalV2Server(api_keys={"has space": ("u", "a")})
    with pytest.raises(ClarifaiConfigError):
        LocalV2Server(pats={"p": "me"})  # "me" is reserved
    with pytest.raises(ClarifaiConfigError):
        LocalV2Server(api_keys={"t": ("u", "a")}, pats={"t": "u"})


def test_calls_are_recorded(client: Client) -> None:
    request = service_pb2.GetInputCountRequest()
    client.call("GetInputCount", request, (*client.key, ("x-extra", "1")))
    client.call("ListStatusCodes", service_pb2.ListStatusCodesRequest(), ())
    calls = client.server.calls
    assert [call.method for call in calls] == ["GetInputCount", "ListStatusCodes"]
    method, metadata, recorded = calls[0]
    assert method == "GetInputCount"
    assert metadata["authorization"] == "Key " + client.server.api_key
    assert metadata["x-extra"] == "1" and recorded == request
    client.server.clear_calls()
    assert client.server.calls == []


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer x"),),
        (("authorization", "Key"),),
        (("authorization", "Key  two-spaces"),),
        (("authorization", "key lower"),),
        (("authorization", "Key a b"),),
    ],
)
def test_missing_or_malformed_header_is_11102(client: Client, metadata: Any) -> None:
    response = client.call("GetInputCount", service_pb2.GetInputCountRequest(), metadata)
    assert response.status.code == S.CONN_INVALID_REQUEST
    assert "authorization" in response.status.details


def test_unknown_token_is_11008(client: Client) -> None:
    response = client.call("GetInputCount", service_pb2.GetInputCountRequest(), (("authorization", "Key nope"),))
    assert response.status.code == S.CONN_KEY_INVALID
    assert response.status.description


def test_pat_needs_an_app_id_on_app_scoped_calls(client: Client) -> None:
    no_app = service_pb2.ListInputsRequest(user_app_id=resources_pb2.UserAppIDSet(user_id="me"))
    response = client.call("ListInputs", no_app, client.pat)
    assert response.status.code == S.CONN_KEY_INVALID
    assert "app ID must be provided" in response.status.details
    assert "user_app_id.app_id" in response.status.details
    with_app = service_pb2.ListInputsRequest(user_app_id=client.pat_app)
    assert client.call("ListInputs", with_app, client.pat).status.code == S.SUCCESS
    own_id = resources_pb2.UserAppIDSet(user_id=client.server.user_id, app_id=client.server.app_id)
    request = service_pb2.ListInputsRequest(user_app_id=own_id)
    assert client.call("ListInputs", request, client.pat).status.code == S.SUCCESS


def test_pat_needs_an_app_id_for_the_built_in_models_too(client: Client) -> None:
    request = service_pb2.PostModelOutputsRequest(model_id="local-text-echo", inputs=[
        resources_pb2.Input(data=resources_pb2.Data(text=resources_pb2.Text(raw="hi")))])
    response = client.call("PostModelOutputs", request, client.pat)
    assert response.status.code == S.CONN_KEY_INVALID and "app ID must be provided" in response.status.details
    request.user_app_id.CopyFrom(resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main"))
    assert client.call("PostModelOutputs", request, client.pat).status.code == S.SUCCESS


def test_user_level_calls_take_a_pat_and_user_id(client: Client) -> None:
    me = resources_pb2.UserAppIDSet(user_id="me")
    apps = client.call("ListApps", service_pb2.ListAppsRequest(user_app_id=me), client.pat)
    assert apps.status.code == S.SUCCESS
    assert [app.id for app in apps.apps] == [client.server.app_id]
    user = client.call("GetUser", service_pb2.GetUserRequest(user_app_id=me), client.pat)
    assert user.status.code == S.SUCCESS and user.user.id == client.server.user_id
    # An app-scoped API key cannot call PAT-only methods; a PAT cannot act as another user.
    by_key = client.call("ListApps", service_pb2.ListAppsRequest(user_app_id=me))
    assert by_key.status.code == S.CONN_INSUFFICIENT_SCOPES
    other = resources_pb2.UserAppIDSet(user_id="someone-else")
    response = client.call("ListApps", service_pb2.ListAppsRequest(user_app_id=other), client.pat)
    assert response.status.code == S.CONN_INSUFFICIENT_SCOPES


def test_api_key_implies_its_app(client: Client) -> None:
    assert client.call("GetApp", service_pb2.GetAppRequest()).app.id == client.server.app_id
    same = resources_pb2.UserAppIDSet(user_id="me", app_id=client.server.app_id)
    assert client.call("GetApp", service_pb2.GetAppRequest(user_app_id=same)).status.code == S.SUCCESS
    other = resources_pb2.UserAppIDSet(user_id="me", app_id="another-app")
    response = client.call("GetApp", service_pb2.GetAppRequest(user_app_id=other))
    assert response.status.code == S.CONN_KEY_INVALID


def test_status_codes_need_no_auth_and_every_response_has_a_fresh_req_id(client: Client) -> None:
    listed = client.call("ListStatusCodes", service_pb2.ListStatusCodesRequest(), ())
    assert listed.status.code == S.SUCCESS
    codes = {status.code for status in listed.statuses}
    assert {S.SUCCESS, S.CONN_KEY_INVALID, S.INPUT_DOES_NOT_EXIST} <= codes
    assert all(status.description for status in listed.statuses)
    one = client.call("GetStatusCode", service_pb2.GetStatusCodeRequest(status_code_id="11008"), ())
    assert one.status.code == S.CONN_KEY_INVALID and one.status.description
    missing = client.call("GetStatusCode", service_pb2.GetStatusCodeRequest(status_code_id="1"), ())
    assert missing.status.code == S.CONN_DOES_NOT_EXIST
    superscript = client.call("GetStatusCode", service_pb2.GetStatusCodeRequest(status_code_id="\u00b2"), ())
    assert superscript.status.code == S.CONN_DOES_NOT_EXIST  # a digit to str.isdigit(), not to int()
    req_ids = {listed.status.req_id, one.status.req_id, missing.status.req_id}
    assert len(req_ids) == 3 and "" not in req_ids


# -- apps -------------------------------------------------------------------------------------


def test_apps_lifecycle(client: Client) -> None:
    me = resources_pb2.UserAppIDSet(user_id="me")
    created = client.call(
        "PostApps",
        service_pb2.PostAppsRequest(user_app_id=me, apps=[resources_pb2.App(id="new")]),
        client.pat,
    )
    assert created.status.code == S.SUCCESS and created.apps[0].user_id == client.server.user_id
    again = client.call(
        "PostApps",
        service_pb2.PostAppsRequest(user_app_id=me, apps=[resources_pb2.App(id="new")]),
        client.pat,
    )
    assert again.status.code == S.CONN_INVALID_REQUEST and "already exists" in again.status.details
    new = resources_pb2.UserAppIDSet(user_id="me", app_id="new")
    got = client.call("GetApp", service_pb2.GetAppRequest(user_app_id=new), client.pat)
    assert got.status.code == S.SUCCESS and got.app.id == "new"
    apps = client.call("ListApps", service_pb2.ListAppsRequest(user_app_id=me), client.pat)
    assert sorted(app.id for app in apps.apps) == sorted([client.server.app_id, "new"])
    page = client.call("ListApps", service_pb2.ListAppsRequest(per_page=1, page=2), client.pat)
    assert [app.id for app in page.apps] == ["new"]
    deleted = client.call("DeleteApp", service_pb2.DeleteAppRequest(user_app_id=new), client.pat)
    assert deleted.status.code == S.SUCCESS
    gone = client.call("GetApp", service_pb2.GetAppRequest(user_app_id=new), client.pat)
    assert gone.status.code == S.CONN_DOES_NOT_EXIST


# -- inputs -----------------------------------------------------------------------------------


def test_inputs_lifecycle(client: Client) -> None:
    red = png((4, 4), (255, 0, 0))
    posted = client.call(
        "PostInputs",
        service_pb2.PostInputsRequest(inputs=[image_input("a", red), text_input("hi", "b"), resources_pb2.Input()]),
    )
    assert posted.status.code == S.MIXED_STATUS  # the third input has no content
    assert [i.status.code for i in posted.inputs] == [
        S.INPUT_DOWNLOAD_SUCCESS,
        S.INPUT_DOWNLOAD_SUCCESS,
        S.INPUT_INVALID_ARGUMENT,
    ]
    dup = client.call("PostInputs", service_pb2.PostInputsRequest(inputs=[text_input("x", "a")]))
    assert dup.status.code == S.FAILURE and dup.inputs[0].status.code == S.INPUT_DUPLICATE

    got = client.call("GetInput", service_pb2.GetInputRequest(input_id="a"))
    assert got.status.code == S.SUCCESS and got.input.data.image.base64 == red
    count = client.call("GetInputCount", service_pb2.GetInputCountRequest())
    assert count.counts.processed == 2

    patch = resources_pb2.Input(id="b", data=resources_pb2.Data(concepts=[resources_pb2.Concept(id="cat", value=1)]))
    patch.data.metadata.update({"k": "v"})
    merged = client.call("PatchInputs", service_pb2.PatchInputsRequest(inputs=[patch], action="merge"))
    assert merged.status.code == S.SUCCESS
    assert [c.id for c in merged.inputs[0].data.concepts] == ["cat"]
    assert merged.inputs[0].data.metadata["k"] == "v"
    assert merged.inputs[0].data.text.raw == "hi"
    removed = client.call("PatchInputs", service_pb2.PatchInputsRequest(inputs=[patch], action="remove"))
    assert list(removed.inputs[0].data.concepts) == [] and "k" not in removed.inputs[0].data.metadata
    bad_action = client.call("PatchInputs", service_pb2.PatchInputsRequest(inputs=[patch]))
    assert bad_action.status.code == S.INPUT_INVALID_REQUEST
    patch.id = "missing"
    no_such = client.call("PatchInputs", service_pb2.PatchInputsRequest(inputs=[patch], action="merge"))
    assert no_such.status.code == S.INPUT_DOES_NOT_EXIST

    assert client.call("DeleteInput", service_pb2.DeleteInputRequest(input_id="a")).status.code == S.SUCCESS
    missing = client.call("GetInput", service_pb2.GetInputRequest(input_id="a"))
    assert missing.status.code == S.INPUT_DOES_NOT_EXIST and "'a'" in missing.status.details
    again = client.call("DeleteInput", service_pb2.DeleteInputRequest(input_id="a"))
    assert again.status.code == S.INPUT_DOES_NOT_EXIST
    partly = client.call("DeleteInputs", service_pb2.DeleteInputsRequest(ids=["b", "zzz"]))
    assert partly.status.code == S.INPUT_DOES_NOT_EXIST  # all or nothing: "b" is still there
    assert client.call("DeleteInputs", service_pb2.DeleteInputsRequest(ids=["b"])).status.code == S.SUCCESS
    assert client.call("GetInputCount", service_pb2.GetInputCountRequest()).counts.processed == 0


def test_list_inputs_pages(client: Client) -> None:
    batch = [text_input("t", f"in-{n:03d}") for n in range(128)]
    assert client.call("PostInputs", service_pb2.PostInputsRequest(inputs=batch)).status.code == S.SUCCESS
    more = [text_input("t", f"in-{n:03d}") for n in range(128, 130)]
    assert client.call("PostInputs", service_pb2.PostInputsRequest(inputs=more)).status.code == S.SUCCESS
    first = client.call("ListInputs", service_pb2.ListInputsRequest())
    assert len(first.inputs) == 128  # per_page defaults to 128
    assert first.inputs[0].id == "in-129"  # newest first
    second = client.call("ListInputs", service_pb2.ListInputsRequest(page=2))
    assert [i.id for i in second.inputs] == ["in-001", "in-000"]
    small = client.call("ListInputs", service_pb2.ListInputsRequest(page=3, per_page=10))
    assert [i.id for i in small.inputs] == [f"in-{n:03d}" for n in range(109, 99, -1)]
    assert len(client.call("ListInputs", service_pb2.ListInputsRequest(per_page=1000)).inputs) == 130
    too_big = client.call("ListInputs", service_pb2.ListInputsRequest(per_page=1001))
    assert too_big.status.code == S.INPUT_INVALID_REQUEST and "1000" in too_big.status.details
    over = client.call("PostInputs", service_pb2.PostInputsRequest(inputs=batch + more))
    assert over.status.code == S.INPUT_INVALID_REQUEST and "128" in over.status.details


# -- concepts and models ------------------------------------------------------------------------


def test_concepts(client: Client) -> None:
    posted = client.call(
        "PostConcepts",
        service_pb2.PostConceptsRequest(
            concepts=[resources_pb2.Concept(id="cat"), resources_pb2.Concept(id="dog", name="Dog")]
        ),
    )
    assert posted.status.code == S.SUCCESS and posted.concepts[0].name == "cat"
    dup = client.call("PostConcepts", service_pb2.PostConceptsRequest(concepts=[resources_pb2.Concept(id="cat")]))
    assert dup.status.code == S.CONCEPTS_INVALID_REQUEST
    got = client.call("GetConcept", service_pb2.GetConceptRequest(concept_id="dog"))
    assert got.status.code == S.SUCCESS and got.concept.name == "Dog"
    missing = client.call("GetConcept", service_pb2.GetConceptRequest(concept_id="eel"))
    assert missing.status.code == S.CONN_DOES_NOT_EXIST
    listed = client.call("ListConcepts", service_pb2.ListConceptsRequest())
    assert [c.id for c in listed.concepts] == ["cat", "dog"]
    paged = client.call("ListConcepts", service_pb2.ListConceptsRequest(page=2, per_page=1))
    assert [c.id for c in paged.concepts] == ["dog"]


def test_models(client: Client) -> None:
    listed = client.call("ListModels", service_pb2.ListModelsRequest())
    assert [m.id for m in listed.models] == [COLOR_MODEL_ID, TEXT_MODEL_ID]
    got = client.call("GetModel", service_pb2.GetModelRequest(model_id=COLOR_MODEL_ID))
    assert got.status.code == S.SUCCESS
    assert (got.model.user_id, got.model.app_id) == ("clarifai", "main")
    missing = client.call("GetModel", service_pb2.GetModelRequest(model_id="general-image-recognition"))
    assert missing.status.code == S.MODEL_DOES_NOT_EXIST
    out = predict(client, image_input(data=png((2, 2), (0, 0, 0))), model_id="nope")
    assert out.status.code == S.MODEL_DOES_NOT_EXIST


# -- the color model ----------------------------------------------------------------------------


def test_pure_red_is_one_color(client: Client) -> None:
    response = predict(client, image_input("red", png((50, 40), (255, 0, 0))))
    assert response.status.code == S.SUCCESS
    output = response.outputs[0]
    assert output.status.code == S.SUCCESS
    assert output.input.id == "red" and output.model.id == COLOR_MODEL_ID
    assert [(c.raw_hex, c.w3c.hex, c.w3c.name, c.value) for c in output.data.colors] == [
        ("#ff0000", "#ff0000", "Red", 1.0)
    ]


def test_half_and_half_is_two_colors(client: Client) -> None:
    data = png((100, 50), (0, 0, 255), right=(255, 255, 0))
    colors = predict(client, image_input(data=data)).outputs[0].data.colors
    assert sorted(c.w3c.name for c in colors) == ["Blue", "Yellow"]
    assert [c.value for c in colors] == pytest.approx([0.5, 0.5], abs=0.02)


def test_sample_jpeg_by_file_url_and_bytes(client: Client) -> None:
    assert SAMPLE.stat().st_size < 30_000
    with Image.open(SAMPLE) as img:
        assert (img.format, img.size) == ("JPEG", (320, 240))
    by_url = predict(client, image_input(url=SAMPLE.as_uri()))
    by_bytes = predict(client, image_input(data=SAMPLE.read_bytes()))
    for response in (by_url, by_bytes):
        assert response.status.code == S.SUCCESS
        colors = response.outputs[0].data.colors
        assert [c.w3c.name for c in colors][:3] == ["SkyBlue", "ForestGreen", "Gold"]
        assert sum(c.value for c in colors) == pytest.approx(1.0)
        assert [c.value for c in colors] == sorted((c.value for c in colors), reverse=True)
        assert all(re.fullmatch(r"#[0-9a-f]{6}", c.raw_hex) for c in colors)
    assert by_url.outputs[0].data.colors == by_bytes.outputs[0].data.colors


def test_bad_inputs_fail_in_band(client: Client, tmp_path: Path) -> None:
    good = image_input("good", png((8, 8), (0, 128, 0)))
    bad = image_input("bad", b"not an image")
    mixed = predict(client, good, bad)
    assert mixed.status.code == S.MIXED_STATUS
    assert [o.status.code for o in mixed.outputs] == [S.SUCCESS, S.INPUT_DOWNLOAD_FAILED]
    assert mixed.outputs[1].input.id == "bad" and not mixed.outputs[1].data.colors
    assert mixed.outputs[0].data.colors[0].w3c.name == "Green"

    (tmp_path / "junk.png").write_bytes(b"\x89PNG junk")
    failures = predict(
        client,
        image_input(url="https://example.com/cat.jpg"),
        image_input(url=(tmp_path / "missing.jpg").as_uri()),
        image_input(url=(tmp_path / "junk.png").as_uri()),
        resources_pb2.Input(),
    )
    assert failures.status.code == S.FAILURE
    assert [o.status.code for o in failures.outputs] == [
        S.INPUT_DOWNLOAD_FAILED,
        S.INPUT_DOWNLOAD_FAILED,
        S.INPUT_DOWNLOAD_FAILED,
        S.INPUT_INVALID_ARGUMENT,
    ]
    assert "offline" in failures.outputs[0].status.details
    assert all(o.status.req_id and o.status.description for o in failures.outputs)
    too_many = predict(client, *[good] * 129)
    assert too_many.status.code == S.PREDICT_INVALID_REQUEST and "128" in too_many.status.details


def test_builtin_models_answer_any_accepted_credentials(client: Client) -> None:
    request = service_pb2.PostModelOutputsRequest(
        user_app_id=resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main"),
        model_id=COLOR_MODEL_ID,
        inputs=[image_input(data=png((2, 2), (255, 0, 0)))],
    )
    assert client.call("PostModelOutputs", request, client.pat).status.code == S.SUCCESS
    assert client.call("PostModelOutputs", request).status.code == S.SUCCESS
    denied = client.call("PostModelOutputs", request, (("authorization", "Key nope"),))
    assert denied.status.code == S.CONN_KEY_INVALID


def test_w3c_table_is_the_full_css_table() -> None:
    assert {name.lower(): hex_ for name, hex_ in W3C_COLORS} == {
        name: value.lower() for name, value in ImageColor.colormap.items()
    }


# -- streaming ----------------------------------------------------------------------------------


def test_generate_streams_word_by_word(client: Client) -> None:
    request = service_pb2.PostModelOutputsRequest(
        model_id=TEXT_MODEL_ID, inputs=[text_input("the  quick brown\nfox", "t1")]
    )
    responses = list(client.stub.GenerateModelOutputs(request, metadata=client.key))
    assert [r.outputs[0].data.text.raw for r in responses] == ["the", "quick", "brown", "fox"]
    assert all(r.status.code == S.SUCCESS and r.outputs[0].input.id == "t1" for r in responses)
    assert len({r.status.req_id for r in responses}) == 4
    unary = predict(client, text_input("the  quick brown\nfox"), model_id=TEXT_MODEL_ID)
    assert unary.outputs[0].data.text.raw == "the quick brown fox"
    denied = list(client.stub.GenerateModelOutputs(request, metadata=()))
    assert [r.status.code for r in denied] == [S.CONN_INVALID_REQUEST]


def test_stream_answers_once_per_request(client: Client) -> None:
    requests = [
        service_pb2.PostModelOutputsRequest(model_id=TEXT_MODEL_ID, inputs=[text_input("one two")]),
        service_pb2.PostModelOutputsRequest(
            model_id=COLOR_MODEL_ID, inputs=[image_input(data=png((3, 3), (255, 0, 0)))]
        ),
        service_pb2.PostModelOutputsRequest(model_id=COLOR_MODEL_ID, inputs=[image_input(data=b"x")]),
    ]
    responses = list(client.stub.StreamModelOutputs(iter(requests), metadata=client.key))
    assert [r.status.code for r in responses] == [S.SUCCESS, S.SUCCESS, S.FAILURE]
    assert responses[0].outputs[0].data.text.raw == "one two"
    assert responses[1].outputs[0].data.colors[0].raw_hex == "#ff0000"
    assert [c.method for c in client.server.calls] == ["StreamModelOutputs"] * 3


# -- drift: every V2 method is implemented or answers UNIMPLEMENTED with its name ----------------


def test_every_v2_method_is_implemented_or_unimplemented_by_name(client: Client) -> None:
    names = [method.name for method in V2.methods]
    assert len(names) == 273
    stub_methods = {name for name in vars(client.stub) if not name.startswith("_")}
    assert stub_methods == set(names)
    assert set(IMPLEMENTED_METHODS) <= set(names)
    answered, unimplemented = set(), set()
    for method in V2.methods:
        request_cls = getattr(service_pb2, method.input_type.name)
        request = request_cls()
        callable_ = getattr(client.stub, method.name)
        try:
            if method.client_streaming:
                result = callable_(iter([request]), metadata=client.key)
            else:
                result = callable_(request, metadata=client.key)
            responses = list(result) if method.server_streaming else [result]
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNIMPLEMENTED, method.name
            assert err.details() == unimplemented_details(method.name)
            assert method.name in err.details()
            unimplemented.add(method.name)
            continue
        assert all(r.status.req_id and r.status.code for r in responses), method.name
        answered.add(method.name)
    assert answered == set(IMPLEMENTED_METHODS)
    assert unimplemented == set(names) - set(IMPLEMENTED_METHODS)


# -- the command line ---------------------------------------------------------------------------


def test_module_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "clarifai_client.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        fields = {}
        for _ in range(5):
            key, _, value = proc.stdout.readline().strip().partition(": ")
            fields[key] = value
        assert re.fullmatch(r"127\.0\.0\.1:\d+", fields["address"])
        assert (fields["api_key"], fields["pat"]) == (DEFAULT_API_KEY, DEFAULT_PAT)
        assert (fields["user_id"], fields["app_id"]) == (DEFAULT_USER_ID, DEFAULT_APP_ID)
        with grpc.insecure_channel(fields["address"]) as channel:
            stub = service_pb2_grpc.V2Stub(channel)
            response = stub.GetApp(
                service_pb2.GetAppRequest(),
                metadata=(("authorization", "Key " + fields["api_key"]),),
                timeout=10,
            )
        assert response.status.code == S.SUCCESS and response.app.id == DEFAULT_APP_ID
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("port", [-1, 65536, 99999, "80", True])
def test_out_of_range_ports_are_refused(port: object) -> None:
    from clarifai_client import ClarifaiConfigError

    with pytest.raises(ClarifaiConfigError, match="port must be an int in 0-65535"):
        LocalV2Server(port=port)  # type: ignore[arg-type]

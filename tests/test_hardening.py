"""Hardening: every bad input is a clear local error, no secret leaks, no call waits forever.

Each numbered section is one KIND of fault from the hardening issue; every test runs against a real
server on 127.0.0.1 (port 0). An autouse fixture puts every logger at DEBUG, captures logs, the
process's stderr (gRPC core writes there), warnings and exception texts (str and repr, causes
included) and fails the test if one of the distinctive fake tokens shows up anywhere (case 16).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import grpc
import pytest
from servers import RecordingServer, status_response

from clarifai_client import (
    DEFAULTS,
    Auth,
    ClarifaiChannel,
    ClarifaiConfigError,
    ClarifaiRpcError,
    ClarifaiStatusError,
    InsecureCredentialsWarning,
    raise_for_status,
)
from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_client.grpc.api.status import status_code_pb2, status_pb2

# Distinctive fake tokens: if one of these shows up in a log, warning or error text, it leaked.
KEY = "hk7FAKEapikeyQz9xW2mPv4"
PAT = "hp3FAKEpatRt8yL5nQc6Jd"
OTHER_KEY = "hk9FAKEotherkeyUe1Bn8Hs"
SECRETS = (KEY, PAT, OTHER_KEY)

ENV_VARS = ("CLARIFAI_PAT", "CLARIFAI_API_KEY", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_GRPC_BASE",
            "CLARIFAI_ROOT_CERTIFICATES_PATH")
SUCCESS = status_code_pb2.SUCCESS
THROTTLED = status_code_pb2.CONN_THROTTLED
MIB = 1024 * 1024


# ----------------------------------------------------------------------------------------------
# Case 16 machinery: the leak scanner every test of this module runs under
# ----------------------------------------------------------------------------------------------


def exception_texts(err: BaseException) -> list[str]:
    """str and repr of an exception and of everything chained to it (cause, context, .cause)."""
    texts: list[str] = []
    seen: set[int] = set()
    todo: list[Optional[BaseException]] = [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current)]
        debug = getattr(current, "debug_error_string", None)
        if callable(debug):
            texts.append(str(debug()))
        todo += [current.__cause__, current.__context__]
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            todo.append(cause)
    return texts


@dataclass
class Seen:
    """Texts a test produced that must not contain a secret (exceptions and warnings it caught)."""

    texts: list[str] = field(default_factory=list)

    def error(self, err: BaseException) -> BaseException:
        self.texts += exception_texts(err)
        return err

    def warnings(self, records: Any) -> None:
        for record in records:
            self.texts += [str(record.message), repr(record.message)]


def find_secrets(texts: list[str]) -> list[str]:
    return [secret for secret in SECRETS if any(secret in text for text in texts)]


@pytest.fixture(autouse=True)
def no_secret_leaks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Seen]:
    for name in (*ENV_VARS, "GRPC_TRACE"):
        monkeypatch.delenv(name, raising=False)
    loggers = [logging.getLogger()] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    try:
        yield seen
    finally:
        for lg, level in levels:
            lg.setLevel(level)
    out, err = capfd.readouterr()
    sys.stdout.write(out)
    sys.stderr.write(err)
    texts = [r.getMessage() for r in caplog.records] + [out, err] + seen.texts
    assert not find_secrets(texts), "a secret leaked into logs, output, warnings or errors"


def expect(seen: Seen, exc_type: type[BaseException], *fragments: str) -> Any:
    """pytest.raises that also checks the message names the fragments and feeds the leak scan."""
    return _Expect(seen, exc_type, fragments)


class _Expect:
    def __init__(self, seen: Seen, exc_type: type[BaseException], fragments: tuple[str, ...]) -> None:
        self.seen, self.exc_type, self.fragments = seen, exc_type, fragments
        self.value: Any = None

    def __enter__(self) -> _Expect:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        assert exc is not None, f"{self.exc_type.__name__} was not raised"
        if not isinstance(exc, self.exc_type):
            return False
        self.value = self.seen.error(exc)
        text = str(exc)
        for fragment in self.fragments:
            assert fragment in text, f"{fragment!r} not in {text!r}"
        return True


# ----------------------------------------------------------------------------------------------
# Servers and helpers
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as srv:
        yield srv


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown: handlers that 'would answer after 30 s' block on it, never really waiting."""
    event = threading.Event()
    yield event
    event.set()


def scripted(handlers: dict[str, Callable[..., Any]], **kwargs: Any) -> RecordingServer:
    return RecordingServer(handlers=handlers, **kwargs).start()


def no_deadline(time_remaining: Optional[float]) -> bool:
    """What a gRPC server reports for a call without a deadline (None, or 'infinity' in seconds)."""
    return time_remaining is None or time_remaining > 1e9


def stub(channel: Any) -> service_pb2_grpc.V2Stub:
    return service_pb2_grpc.V2Stub(channel)


def insecure(address: str, **kwargs: Any) -> Any:
    return ClarifaiChannel.get_insecure_grpc_channel(address, **kwargs)


def ok(cls: Any, **fields: Any) -> Any:
    return status_response(cls, SUCCESS, **fields)


@dataclass
class MiniServer:
    """A V2 server on any address/credentials (RecordingServer binds only plaintext 127.0.0.1)."""

    bind: str
    credentials: Optional[grpc.ServerCredentials] = None
    calls: list[list[tuple[str, str]]] = field(default_factory=list)
    port: int = 0
    _server: Any = None

    def __enter__(self) -> MiniServer:
        def list_status_codes(request: Any, context: grpc.ServicerContext) -> Any:
            self.calls.append([(m.key, m.value) for m in context.invocation_metadata()])
            return ok(service_pb2.MultiStatusCodeResponse)

        handler = grpc.method_handlers_generic_handler("clarifai.api.V2", {
            "ListStatusCodes": grpc.unary_unary_rpc_method_handler(
                list_status_codes, request_deserializer=service_pb2.ListStatusCodesRequest.FromString,
                response_serializer=service_pb2.MultiStatusCodeResponse.SerializeToString),
        })
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        if self.credentials is None:
            self.port = self._server.add_insecure_port(f"{self.bind}:0")
        else:
            self.port = self._server.add_secure_port(f"{self.bind}:0", self.credentials)
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop(None)


# ----------------------------------------------------------------------------------------------
# 1. Credentials read from files: trailing whitespace is trimmed, everything else is an error
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc123\n", "abc123\r\n", "abc123\t", "  abc123 \n"])
def test_01_token_with_trailing_newline_is_sent_trimmed(server: RecordingServer, raw: str) -> None:
    with insecure(server.address, auth=Auth.from_api_key(raw)) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
    with insecure(server.address, auth=Auth.from_pat(raw, user_id="u1", app_id="a1")) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
    # as Clarifai's docs show it: per-call metadata on a channel without auth=
    with insecure(server.address) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), metadata=(("authorization", "Key " + raw),),
                                   timeout=5)
    assert [c.header("authorization") for c in server.calls] == [["Key abc123"]] * 3


def test_01_token_trimmed_from_env(server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_API_KEY", "abc123\r\n")
    with insecure(server.address, auth=Auth.from_env()) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
    assert server.calls[0].header("authorization") == ["Key abc123"]


BAD_TOKENS = [
    ("ab c", "whitespace inside it (a space)"),
    ("ab\nc", "whitespace inside it (a newline)"),
    ("ab\tc", "whitespace inside it (a tab)"),
    ('"abc123"', "quote"),
    ("'abc123'", "quote"),
    ('"abc123', "quote"),
    (None, "No API key was given"),
    ("", "empty"),
    ("  \n", "empty"),
    ("Key abc123", "pass only the token"),
    ("Bearer abc123", "pass only the token"),
    ("abc\x00123", "U+0000"),
    ("abc\u00e9123", "U+00E9"),
    ("abc\u200b123", "U+200B"),
    (b"abc123", "decode it first"),
    (12345, "must be a str"),
]


@pytest.mark.parametrize(("raw", "says"), BAD_TOKENS, ids=[repr(raw) for raw, _ in BAD_TOKENS])
def test_01_bad_token_is_a_clear_local_error(server: RecordingServer, no_secret_leaks: Seen, raw: Any,
                                             says: str) -> None:
    texts: list[str] = []
    with expect(no_secret_leaks, ClarifaiConfigError, says) as err:
        Auth.from_api_key(raw)
    assert isinstance(err.value, ValueError)
    texts += exception_texts(err.value)
    with expect(no_secret_leaks, ClarifaiConfigError) as err:
        Auth.from_pat(raw, user_id="u1", app_id="a1")
    texts += exception_texts(err.value)
    if isinstance(raw, str) and raw.strip():
        with insecure(server.address) as channel, expect(no_secret_leaks, ClarifaiConfigError) as err:
            stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), metadata=(("authorization", "Key " + raw),),
                                       timeout=5)
        texts += exception_texts(err.value)
    assert server.calls == []
    if isinstance(raw, (str, bytes)) and len(raw.strip()) > 2:
        core = raw.strip().strip(b'"' if isinstance(raw, bytes) else '"\'')
        shown = core if isinstance(core, str) else core.decode()
        assert not any(shown in text for text in texts), "the error repeats the token"


# ----------------------------------------------------------------------------------------------
# 2. Auth.from_env() without credentials
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_02_from_env_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch, no_secret_leaks: Seen,
                                                            empty: Optional[str]) -> None:
    if empty is not None:
        for name in ENV_VARS[:4]:
            monkeypatch.setenv(name, empty)
    with expect(no_secret_leaks, ClarifaiConfigError, "CLARIFAI_PAT", "CLARIFAI_API_KEY", "CLARIFAI_USER_ID",
                "CLARIFAI_APP_ID"):
        Auth.from_env()
    assert not Auth.env_is_set()


@pytest.mark.parametrize(("variable", "value"), [
    ("CLARIFAI_PAT", f'"{PAT}"'), ("CLARIFAI_API_KEY", f"'{KEY}'"), ("CLARIFAI_PAT", f"{PAT[:6]} {PAT[6:]}"),
])
def test_02_bad_value_in_env_names_the_variable(monkeypatch: pytest.MonkeyPatch, no_secret_leaks: Seen,
                                               variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with expect(no_secret_leaks, ClarifaiConfigError, variable):
        Auth.from_env()


def test_02_from_env_pat_reaches_the_server(server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", PAT + "\n")
    monkeypatch.setenv("CLARIFAI_USER_ID", "u1")
    monkeypatch.setenv("CLARIFAI_APP_ID", "a1")
    with insecure(server.address, auth=Auth.from_env()) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
    call = server.calls[0]
    assert call.header("authorization") == [f"Key {PAT}"]
    assert (call.request.user_app_id.user_id, call.request.user_app_id.app_id) == ("u1", "a1")


# ----------------------------------------------------------------------------------------------
# 3. A PAT with a user but no app
# ----------------------------------------------------------------------------------------------


def test_03_pat_without_app_refuses_app_scoped_calls_locally(server: RecordingServer, no_secret_leaks: Seen) -> None:
    auth = Auth.from_pat(PAT, user_id="u1")
    with insecure(server.address, auth=auth) as channel:
        v2 = stub(channel)
        for call in (lambda: v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5),
                     lambda: v2.PostModelOutputs.with_call(service_pb2.PostModelOutputsRequest(), timeout=5),
                     lambda: v2.GetInput.future(service_pb2.GetInputRequest(input_id="i"), timeout=5),
                     lambda: list(v2.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(model_id="m")))):
            with expect(no_secret_leaks, ClarifaiConfigError, "app_id", "CLARIFAI_APP_ID"):
                call()
        assert server.calls == []
        # user-level calls work with only a user ID
        v2.ListApps(service_pb2.ListAppsRequest(), timeout=5)
        # and an app given in the request itself is honoured
        v2.ListConcepts(service_pb2.ListConceptsRequest(
            user_app_id=resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main")), timeout=5)
    apps, concepts = server.calls
    assert apps.method == "ListApps" and apps.request.user_app_id.user_id == "u1"
    assert apps.header("authorization") == [f"Key {PAT}"]
    assert concepts.request.user_app_id.app_id == "main"


def test_03_pat_without_app_from_env_aio(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                         no_secret_leaks: Seen) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", PAT)
    monkeypatch.setenv("CLARIFAI_USER_ID", "u1")

    async def main() -> None:
        async with ClarifaiChannel.get_aio_insecure_grpc_channel(server.address, auth=Auth.from_env()) as channel:
            v2 = stub(channel)
            with expect(no_secret_leaks, ClarifaiConfigError, "app_id", "CLARIFAI_APP_ID"):
                await v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
            await v2.ListApps(service_pb2.ListAppsRequest(), timeout=5)

    asyncio.run(main())
    assert [c.method for c in server.calls] == ["ListApps"]


# ----------------------------------------------------------------------------------------------
# 4. Caller metadata with upper-case keys, and other metadata gRPC would reject
# ----------------------------------------------------------------------------------------------


def test_04_upper_case_metadata_keys_are_lowercased_and_caller_auth_wins(server: RecordingServer) -> None:
    with insecure(server.address, auth=Auth.from_api_key(KEY)) as channel:
        v2 = stub(channel)
        v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5,
                        metadata=(("Authorization", f"Key {OTHER_KEY}"), ("X-Request-Id", "a")))
        v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5, metadata=(("X-Request-Id", "b"),))
        v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5, metadata={"X-Request-Id": "c"})
        list(v2.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(model_id="m"), timeout=5,
                                     metadata=(("AUTHORIZATION", f"Key {OTHER_KEY}"),)))
    first, second, third, stream = server.calls
    assert first.header("authorization") == [f"Key {OTHER_KEY}"]
    assert first.header("x-request-id") == ["a"]
    assert second.header("authorization") == [f"Key {KEY}"] and second.header("x-request-id") == ["b"]
    assert third.header("x-request-id") == ["c"]
    assert stream.header("authorization") == [f"Key {OTHER_KEY}"]
    assert all(k == k.lower() for c in server.calls for k, _ in c.metadata)


def test_04_upper_case_metadata_keys_aio(server: RecordingServer) -> None:
    async def main() -> None:
        async with ClarifaiChannel.get_aio_insecure_grpc_channel(server.address, auth=Auth.from_api_key(KEY)) as ch:
            await stub(ch).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5,
                                        metadata=(("Authorization", f"Key {OTHER_KEY}"), ("X-Request-Id", "a")))

    asyncio.run(main())
    (call,) = server.calls
    assert call.header("authorization") == [f"Key {OTHER_KEY}"] and call.header("x-request-id") == ["a"]


BAD_METADATA = [
    (("x request id", "a"), "not a valid gRPC header name"),
    (("x-réquest", "a"), "not a valid gRPC header name"),
    (("x-secret", KEY + "\n"), "a newline"),
    (("x-secret", "ab\tc"), "a tab"),
    (("x-secret", "caf\u00e9"), "U+00E9"),
    (("x-secret", 5), "must be a str"),
    (("x-secret-bin", KEY), "must be bytes"),
    (("grpc-timeout", "1S"), "reserved"),
    (("te", "trailers"), "reserved"),
    (("authorization", f"Bearer {KEY}"), "'Key <token>'"),
    (("authorization", f"Key {KEY}\nx"), "whitespace"),
    (("authorization", KEY.encode()), "'Key <token>'"),  # ASCII bytes are decoded; the scheme is required
    ("not-a-pair", "pairs"),
]


@pytest.mark.parametrize(("item", "says"), BAD_METADATA, ids=[str(i) for i, _ in BAD_METADATA])
def test_04_bad_metadata_is_a_clear_local_error(server: RecordingServer, no_secret_leaks: Seen, item: Any,
                                               says: str) -> None:
    with insecure(server.address, auth=Auth.from_api_key(KEY)) as channel:
        v2 = stub(channel)
        for call in (lambda: v2.ListConcepts(service_pb2.ListConceptsRequest(), timeout=5, metadata=(item,)),
                     lambda: v2.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(), timeout=5,
                                                     metadata=(item,))):
            with expect(no_secret_leaks, ClarifaiConfigError, says):
                call()
    assert server.calls == []


# ----------------------------------------------------------------------------------------------
# 5. Bases that are not host[:port]
# ----------------------------------------------------------------------------------------------

BAD_BASES = [
    ("https://{addr}", "scheme"), ("{addr}/", "path"), ("{addr}/v2", "path"), (" {addr}", "whitespace"),
    ("{addr}\n", "whitespace"), ("dns:///{addr}", "scheme"), ("{addr}:1", "more than one ':'"),
    ("127.0.0.1:http", "number"), ("::1:5", "brackets"),
    ("127.0.0.1:70000", "out of range"), ("127.0.0.1:0", "out of range"), ("[::1", "not closed"),
    ("::1", "brackets"), ("[nothost]:1", "not an IPv6 address"), ("host_with space", "whitespace"),
    ("user:s3cretpw@{addr}", "user or password"), ("unix:/tmp/sock", "path"),
]


@pytest.mark.parametrize(("template", "says"), BAD_BASES, ids=[t for t, _ in BAD_BASES])
def test_05_bad_base_is_a_value_error_with_the_accepted_form(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                                             no_secret_leaks: Seen, template: str, says: str) -> None:
    base = template.format(addr=server.address)
    for factory in (ClarifaiChannel.get_insecure_grpc_channel, ClarifaiChannel.get_grpc_channel,
                    ClarifaiChannel.get_aio_insecure_grpc_channel, ClarifaiChannel.get_aio_grpc_channel):
        with expect(no_secret_leaks, ValueError, says, "'host:port'"):
            factory(base, auth=Auth.from_api_key(KEY))
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", base)
    with expect(no_secret_leaks, ClarifaiConfigError, "CLARIFAI_GRPC_BASE", "'host:port'") as err:
        ClarifaiChannel.get_insecure_grpc_channel()
    assert "s3cretpw" not in repr(err.value)
    assert server.calls == []


# ----------------------------------------------------------------------------------------------
# 6. CLARIFAI_GRPC_BASE, port=, IPv6
# ----------------------------------------------------------------------------------------------


def test_06_env_base_reaches_the_server(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                        no_secret_leaks: Seen) -> None:
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.address)
    with ClarifaiChannel.get_insecure_grpc_channel(auth=Auth.from_api_key(KEY)) as channel:
        stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
    with ClarifaiChannel.get_insecure_grpc_channel(port=server.port) as channel:  # the same port is fine
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    with ClarifaiChannel.get_insecure_grpc_channel("127.0.0.1", port=server.port) as channel:
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    assert len(server.calls) == 3
    with expect(no_secret_leaks, ClarifaiConfigError, "Conflicting ports", "CLARIFAI_GRPC_BASE",
                f"port={server.port + 1}"):
        ClarifaiChannel.get_insecure_grpc_channel(port=server.port + 1)
    with expect(no_secret_leaks, ClarifaiConfigError, "Conflicting ports"):
        ClarifaiChannel.get_aio_insecure_grpc_channel(server.address, port=server.port + 1)
    for bad_port in (0, 65536, "44x", "", True):
        with expect(no_secret_leaks, ClarifaiConfigError, "port must be an int"):
            ClarifaiChannel.get_insecure_grpc_channel("127.0.0.1", port=bad_port)
    assert len(server.calls) == 3


def _ipv6_loopback_reason() -> Optional[str]:
    if not socket.has_ipv6:
        return "Python was built without IPv6 support"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError as err:
        return f"this machine has no IPv6 loopback (binding [::1] failed: {err})"
    return None


def test_06_ipv6_loopback_base(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _ipv6_loopback_reason()
    if reason:
        pytest.skip(reason)
    with MiniServer("[::1]") as srv:
        with insecure(f"[::1]:{srv.port}", auth=Auth.from_api_key(KEY)) as channel:  # loopback: no warning
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
        monkeypatch.setenv("CLARIFAI_GRPC_BASE", f"[::1]:{srv.port}")
        with ClarifaiChannel.get_insecure_grpc_channel() as channel:
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
        with insecure("[::1]", port=srv.port) as channel:
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    assert len(srv.calls) == 3
    assert ("authorization", f"Key {KEY}") in srv.calls[0]


# ----------------------------------------------------------------------------------------------
# 7. TLS with a private CA
# ----------------------------------------------------------------------------------------------


@dataclass
class Pki:
    ca: Path
    key: bytes
    cert: bytes


def _pki_openssl(tmp: Path, openssl: str) -> Pki:
    (tmp / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
         "-subj", "/CN=clarifai-client hardening test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"],
    ]
    for step in steps:
        subprocess.run(step, cwd=tmp, check=True, capture_output=True, timeout=30)
    return Pki(tmp / "ca.pem", (tmp / "server.key").read_bytes(), (tmp / "server.pem").read_bytes())


def _pki_cryptography(tmp: Path) -> Pki:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clarifai-client hardening test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - day).not_valid_after(now + day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - day).not_valid_after(now + day)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Pki(tmp / "ca.pem", key_pem, cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    tmp = tmp_path_factory.mktemp("pki")
    openssl = shutil.which("openssl")
    if openssl:
        return _pki_openssl(tmp, openssl)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        pytest.skip("cannot make a throwaway CA: neither the openssl tool nor the cryptography package is present")
    return _pki_cryptography(tmp)


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[MiniServer]:
    with MiniServer("127.0.0.1", grpc.ssl_server_credentials([(pki.key, pki.cert)])) as srv:
        yield srv


def test_07_private_ca_with_default_roots_fails_fast_with_a_hint(tls_server: MiniServer, no_secret_leaks: Seen,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", raising=False)
    timeout = 5.0
    with ClarifaiChannel.get_grpc_channel(f"127.0.0.1:{tls_server.port}", auth=Auth.from_api_key(KEY)) as channel:
        started = time.monotonic()
        with expect(no_secret_leaks, ClarifaiRpcError, "certificate verification", "root_certificates_path",
                    "CLARIFAI_ROOT_CERTIFICATES_PATH") as err:
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=timeout)
        elapsed = time.monotonic() - started
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert elapsed < timeout
    assert tls_server.calls == []


def test_07_private_ca_by_argument_or_env_succeeds(tls_server: MiniServer, pki: Pki,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"127.0.0.1:{tls_server.port}"
    with ClarifaiChannel.get_grpc_channel(address, str(pki.ca), auth=Auth.from_api_key(KEY)) as channel:
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    with ClarifaiChannel.get_grpc_channel(f"localhost:{tls_server.port}", pki.ca) as channel:  # PathLike works too
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    monkeypatch.setenv("CLARIFAI_ROOT_CERTIFICATES_PATH", str(pki.ca))
    with ClarifaiChannel.get_grpc_channel(address) as channel:
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)

    async def main() -> None:
        async with ClarifaiChannel.get_aio_grpc_channel(address, auth=Auth.from_api_key(KEY)) as channel:
            await stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)

    asyncio.run(main())
    assert len(tls_server.calls) == 4
    assert ("authorization", f"Key {KEY}") in tls_server.calls[0]


def test_07_missing_or_bad_ca_file_is_an_error_at_factory_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               no_secret_leaks: Seen) -> None:
    missing = tmp_path / "no-such-ca.pem"
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate\n")
    for factory in (ClarifaiChannel.get_grpc_channel, ClarifaiChannel.get_aio_grpc_channel):
        with expect(no_secret_leaks, ClarifaiConfigError, str(missing), "root_certificates_path", "PEM"):
            factory("127.0.0.1:1", str(missing))
        with expect(no_secret_leaks, ClarifaiConfigError, "no PEM certificate"):
            factory("127.0.0.1:1", str(not_pem))
        with expect(no_secret_leaks, ClarifaiConfigError, "Cannot read"):
            factory("127.0.0.1:1", str(tmp_path))  # a directory
    monkeypatch.setenv("CLARIFAI_ROOT_CERTIFICATES_PATH", str(missing))
    with expect(no_secret_leaks, ClarifaiConfigError, "CLARIFAI_ROOT_CERTIFICATES_PATH", str(missing)):
        ClarifaiChannel.get_grpc_channel("127.0.0.1:1")


# ----------------------------------------------------------------------------------------------
# 8. Credentials over plaintext to a non-loopback host (channels are created, never used)
# ----------------------------------------------------------------------------------------------

REMOTE = "192.0.2.10:18080"  # TEST-NET-1 (RFC 5737): never connected to; gRPC connects lazily


@pytest.mark.parametrize("auth", [Auth.from_api_key(KEY), Auth.from_pat(PAT, user_id="u1", app_id="a1")],
                         ids=["api_key", "pat"])
def test_08_credential_over_remote_plaintext_warns(auth: Auth, monkeypatch: pytest.MonkeyPatch,
                                                   no_secret_leaks: Seen) -> None:
    with pytest.warns(InsecureCredentialsWarning, match="plaintext") as records:
        ClarifaiChannel.get_insecure_grpc_channel(REMOTE, auth=auth).close()
    with pytest.warns(InsecureCredentialsWarning, match="plaintext") as more:
        ClarifaiChannel.get_aio_insecure_grpc_channel(REMOTE, auth=auth)  # binds to a loop lazily: no I/O
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", "remote.example.com:18080")
    with pytest.warns(InsecureCredentialsWarning, match="remote.example.com:18080") as env:
        ClarifaiChannel.get_insecure_grpc_channel(auth=auth).close()
    no_secret_leaks.warnings([*records, *more, *env])
    assert "API key" in str(records[0].message) or "Personal Access Token" in str(records[0].message)


def test_08_credential_in_call_metadata_over_remote_plaintext_warns_before_io(no_secret_leaks: Seen) -> None:
    # The warning is turned into an error so the call stops before any I/O: no packet leaves.
    with insecure(REMOTE) as channel, warnings.catch_warnings():
        warnings.simplefilter("error", InsecureCredentialsWarning)
        with expect(no_secret_leaks, InsecureCredentialsWarning, "plaintext", "192.0.2.10"):
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=1,
                                          metadata=(("authorization", f"Key {KEY}"),))


@pytest.mark.parametrize("base", ["127.0.0.1:18080", "127.3.4.5:1", "localhost:18080", "[::1]:18080",
                                  "LOCALHOST:1", "svc.localhost:1"])
def test_08_loopback_plaintext_stays_quiet(base: str, server: RecordingServer) -> None:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        ClarifaiChannel.get_insecure_grpc_channel(base, auth=Auth.from_api_key(KEY)).close()
        ClarifaiChannel.get_aio_insecure_grpc_channel(base, auth=Auth.from_pat(PAT, user_id="u1"))
        ClarifaiChannel.get_grpc_channel(REMOTE, auth=Auth.from_api_key(KEY)).close()  # TLS: quiet
        ClarifaiChannel.get_insecure_grpc_channel(REMOTE).close()  # no credential: quiet
        with insecure(server.address) as channel:  # per-call credential to loopback: quiet
            stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5,
                                          metadata=(("authorization", f"Key {KEY}"),))
    assert [str(r.message) for r in records] == []


# ----------------------------------------------------------------------------------------------
# 9. Deadlines: a default for unary calls, per-call timeout wins, streams are not cut
# ----------------------------------------------------------------------------------------------


def _slow(release: threading.Event, cls: Any) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        release.wait(30)  # "answers after 30 s": released at teardown, never actually waited for
        return ok(cls)
    return handler


def test_09_default_unary_deadline_applies_and_is_configurable(release: threading.Event,
                                                               no_secret_leaks: Seen) -> None:
    assert DEFAULTS.default_timeout == 120.0  # the documented default
    srv = scripted({"ListConcepts": _slow(release, service_pb2.MultiConceptResponse)})
    try:
        for kwargs, expected in (({"default_timeout": 0.3}, 0.3),
                                 ({"defaults": DEFAULTS.replace(default_timeout=0.2)}, 0.2)):
            with insecure(srv.address, auth=Auth.from_api_key(KEY), **kwargs) as channel:
                started = time.monotonic()
                with expect(no_secret_leaks, ClarifaiRpcError, "DEADLINE_EXCEEDED", f"{expected:g} s",
                            "default_timeout") as err:
                    stub(channel).ListConcepts(service_pb2.ListConceptsRequest())
                elapsed = time.monotonic() - started
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert expected <= elapsed < expected + 0.5
            remaining = srv.calls[-1].time_remaining
            assert remaining is not None and remaining <= expected
        # per-call timeout= wins over the channel default
        with insecure(srv.address, default_timeout=60) as channel:
            started = time.monotonic()
            with expect(no_secret_leaks, ClarifaiRpcError, "0.15 s"):
                stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=0.15)
            assert time.monotonic() - started < 1.0
            assert srv.calls[-1].time_remaining is not None and srv.calls[-1].time_remaining <= 0.15
    finally:
        release.set()
        srv.stop()


def test_09_default_deadline_is_sent_on_every_unary_kind(server: RecordingServer) -> None:
    with insecure(server.address) as channel:  # the library default: 120 s
        v2 = stub(channel)
        v2.ListStatusCodes(service_pb2.ListStatusCodesRequest())
        v2.ListStatusCodes.with_call(service_pb2.ListStatusCodesRequest())
        v2.ListStatusCodes.future(service_pb2.ListStatusCodesRequest()).result(timeout=10)
    with insecure(server.address, default_timeout=None) as channel:  # None: the caller opts out
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest())
    remaining = [c.time_remaining for c in server.calls]
    # the grpc-timeout header is coarse: the server may see up to a second more than was set
    assert all(r is not None and 100 < r <= 121.5 for r in remaining[:3]), remaining
    assert no_deadline(remaining[3])


def test_09_default_deadline_aio(release: threading.Event, no_secret_leaks: Seen) -> None:
    srv = scripted({"ListConcepts": _slow(release, service_pb2.MultiConceptResponse)})

    async def main() -> None:
        async with ClarifaiChannel.get_aio_insecure_grpc_channel(srv.address, default_timeout=0.25) as channel:
            with expect(no_secret_leaks, ClarifaiRpcError, "DEADLINE_EXCEEDED", "0.25 s"):
                await stub(channel).ListConcepts(service_pb2.ListConceptsRequest())

    try:
        started = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        srv.stop()


def test_09_streams_are_not_cut_by_the_default(release: threading.Event, no_secret_leaks: Seen) -> None:
    second = threading.Event()

    def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        yield ok(service_pb2.MultiOutputResponse)
        second.wait(30)  # set by the test once the default deadline has visibly passed
        yield ok(service_pb2.MultiOutputResponse)

    srv = scripted({"GenerateModelOutputs": stream, "ListConcepts": _slow(release, service_pb2.MultiConceptResponse)})
    try:
        with insecure(srv.address, default_timeout=0.2) as channel:
            v2 = stub(channel)
            responses = v2.GenerateModelOutputs(service_pb2.PostModelOutputsRequest(model_id="m"))
            started = time.monotonic()
            assert next(responses).status.code == SUCCESS
            # a unary call on the same channel hits the 0.2 s default: that is our clock
            with expect(no_secret_leaks, ClarifaiRpcError, "DEADLINE_EXCEEDED"):
                v2.ListConcepts(service_pb2.ListConceptsRequest())
            assert time.monotonic() - started >= 0.2
            second.set()
            assert next(responses).status.code == SUCCESS
            assert list(responses) == []
        stream_call = srv.calls_to("GenerateModelOutputs")[0]
        assert no_deadline(stream_call.time_remaining)
    finally:
        second.set()
        release.set()
        srv.stop()


# ----------------------------------------------------------------------------------------------
# 10. Transport retries: UNAVAILABLE retried quickly, never INVALID_ARGUMENT, never past the deadline
# ----------------------------------------------------------------------------------------------


def _failing(code: grpc.StatusCode, times: int, cls: Any) -> Callable[..., Any]:
    count = [0]
    lock = threading.Lock()

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        with lock:
            count[0] += 1
            n = count[0]
        if n <= times:
            context.abort(code, f"scripted {code.name} #{n}")
        return ok(cls)
    return handler


def test_10_unavailable_twice_then_success(no_secret_leaks: Seen) -> None:
    srv = scripted({"ListConcepts": _failing(grpc.StatusCode.UNAVAILABLE, 2, service_pb2.MultiConceptResponse)})
    try:
        with insecure(srv.address, auth=Auth.from_api_key(KEY)) as channel:
            started = time.monotonic()
            response = stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
            elapsed = time.monotonic() - started
        assert response.status.code == SUCCESS
        assert elapsed < 1.0, elapsed
        print(f"case 10: UNAVAILABLE x2 then success in {elapsed * 1000:.1f} ms")
        assert len(srv.calls) == 3
        assert [c.header("grpc-previous-rpc-attempts") for c in srv.calls] == [[], ["1"], ["2"]]
    finally:
        srv.stop()


def test_10_unavailable_twice_then_success_aio() -> None:
    srv = scripted({"ListConcepts": _failing(grpc.StatusCode.UNAVAILABLE, 2, service_pb2.MultiConceptResponse)})

    async def main() -> Any:
        async with ClarifaiChannel.get_aio_insecure_grpc_channel(srv.address) as channel:
            return await stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)

    try:
        started = time.monotonic()
        assert asyncio.run(main()).status.code == SUCCESS
        assert time.monotonic() - started < 1.0
        assert len(srv.calls) == 3
    finally:
        srv.stop()


def test_10_invalid_argument_is_never_retried(no_secret_leaks: Seen) -> None:
    srv = scripted({"ListConcepts": _failing(grpc.StatusCode.INVALID_ARGUMENT, 99, service_pb2.MultiConceptResponse)})
    try:
        with insecure(srv.address) as channel:
            with expect(no_secret_leaks, ClarifaiRpcError, "INVALID_ARGUMENT") as err:
                stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert isinstance(err.value, grpc.RpcError)
        assert len(srv.calls) == 1
    finally:
        srv.stop()


@pytest.mark.parametrize("per_call", [True, False], ids=["timeout", "default_timeout"])
def test_10_retries_never_outlive_the_deadline(no_secret_leaks: Seen, per_call: bool) -> None:
    srv = scripted({"ListConcepts": _failing(grpc.StatusCode.UNAVAILABLE, 10**6, service_pb2.MultiConceptResponse)})
    slow_retries = DEFAULTS.replace(retry_initial_backoff=2.0, retry_max_backoff=5.0, default_timeout=0.3)
    try:
        with insecure(srv.address, defaults=slow_retries) as channel:
            started = time.monotonic()
            with expect(no_secret_leaks, ClarifaiRpcError) as err:
                stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=0.3 if per_call else None)
            elapsed = time.monotonic() - started
        assert err.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
        assert elapsed < 0.3 + 0.3, elapsed
        assert 1 <= len(srv.calls) <= 5
    finally:
        srv.stop()


def test_10_bad_retry_settings_fail_at_factory_time(no_secret_leaks: Seen) -> None:
    # gRPC itself would only reject these at the first call (INVALID_ARGUMENT "service config").
    for change, says in (({"retry_status_codes": ("NOPE",)}, "not a gRPC status name"),
                         ({"retry_status_codes": ()}, "non-empty"),
                         ({"retry_backoff_multiplier": 0}, "positive"),
                         ({"retry_initial_backoff": -1.0}, "positive"),
                         ({"retry_initial_backoff": 9.0, "retry_max_backoff": 1.0}, "must not exceed"),
                         ({"throttle_initial_backoff": -1}, ">= 0"),
                         ({"default_timeout": 0}, "positive"),
                         ({"request_id_prefix": "a\nb"}, "printable ASCII")):
        with expect(no_secret_leaks, ClarifaiConfigError, says):
            DEFAULTS.replace(**change)


def test_10_small_backoffs_are_valid_service_configs(server: RecordingServer, no_secret_leaks: Seen) -> None:
    # str(0.00005) is '5e-05': as a duration gRPC would reject it at the first call.
    small = DEFAULTS.replace(retry_initial_backoff=0.001, retry_max_backoff=0.00105)
    assert "e-" not in small.service_config()
    with insecure(server.address, defaults=small) as channel:
        stub(channel).ListStatusCodes(service_pb2.ListStatusCodesRequest(), timeout=5)
    with expect(no_secret_leaks, ClarifaiConfigError, "at least 0.001 s"):
        DEFAULTS.replace(retry_initial_backoff=0.00005)


# ----------------------------------------------------------------------------------------------
# 11. In-band CONN_THROTTLED: backed off and repeated inside the deadline
# ----------------------------------------------------------------------------------------------


def _throttled(times: int) -> Callable[..., Any]:
    count = [0]

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        count[0] += 1
        if count[0] <= times:
            return status_response(service_pb2.MultiConceptResponse, THROTTLED, "Making too many requests")
        return ok(service_pb2.MultiConceptResponse)
    return handler


FAST_THROTTLE = DEFAULTS.replace(throttle_initial_backoff=0.02, throttle_max_backoff=0.08)


def test_11_throttled_twice_then_success(caplog: pytest.LogCaptureFixture) -> None:
    assert DEFAULTS.throttle_retries >= 2  # enabled by default
    srv = scripted({"ListConcepts": _throttled(2)})
    try:
        with insecure(srv.address, auth=Auth.from_api_key(KEY), defaults=FAST_THROTTLE) as channel:
            started = time.monotonic()
            response = stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
            elapsed = time.monotonic() - started
        assert response.status.code == SUCCESS
        print(f"case 11: throttled x2 then success in {elapsed * 1000:.1f} ms")
        assert len(srv.calls) == 3
        assert all(c.header("authorization") == [f"Key {KEY}"] for c in srv.calls)
        remaining = [c.time_remaining for c in srv.calls]
        assert all(r is not None and r <= 5.01 for r in remaining), remaining  # repeats share one deadline
        waits = [r for r in caplog.records if r.name == "clarifai_client" and "CONN_THROTTLED" in r.getMessage()]
        assert [r.levelno for r in waits] == [logging.INFO, logging.INFO]
        assert "retry 1/3" in waits[0].getMessage() and "retry 2/3" in waits[1].getMessage()
        delays = [float(re.search(r"in ([0-9.]+) s", r.getMessage()).group(1)) for r in waits]  # type: ignore[union-attr]
        assert delays[0] <= 0.02 and delays[1] <= 0.04  # full jitter under a doubling bound
        assert elapsed < 0.02 + 0.04 + 0.5
    finally:
        srv.stop()


def test_11_throttled_twice_then_success_aio(caplog: pytest.LogCaptureFixture) -> None:
    srv = scripted({"ListConcepts": _throttled(2)})

    async def main() -> Any:
        async with ClarifaiChannel.get_aio_insecure_grpc_channel(srv.address, auth=Auth.from_api_key(KEY),
                                                                  defaults=FAST_THROTTLE) as channel:
            return await stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)

    try:
        assert asyncio.run(main()).status.code == SUCCESS
        assert len(srv.calls) == 3
        assert len([r for r in caplog.records if "CONN_THROTTLED" in r.getMessage()]) == 2
    finally:
        srv.stop()


def test_11_throttled_forever_gives_up_after_the_configured_retries(no_secret_leaks: Seen) -> None:
    srv = scripted({"ListConcepts": _throttled(10**6)})
    try:
        with insecure(srv.address, defaults=FAST_THROTTLE.replace(throttle_retries=2)) as channel:
            response = stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5)
        assert response.status.code == THROTTLED
        assert len(srv.calls) == 3
        with expect(no_secret_leaks, ClarifaiStatusError, "11005", "CONN_THROTTLED"):
            raise_for_status(response)
        with insecure(srv.address, defaults=FAST_THROTTLE.replace(throttle_retries=0)) as channel:
            assert stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=5).status.code == THROTTLED
        assert len(srv.calls) == 4  # off: exactly one call
    finally:
        srv.stop()


@pytest.mark.parametrize("per_call", [True, False], ids=["timeout", "default_timeout"])
def test_11_throttled_forever_never_waits_past_the_deadline(per_call: bool) -> None:
    srv = scripted({"ListConcepts": _throttled(10**6)})
    long_waits = DEFAULTS.replace(throttle_initial_backoff=5.0, throttle_max_backoff=8.0, throttle_retries=10,
                                  default_timeout=0.3)
    try:
        with insecure(srv.address, defaults=long_waits) as channel:
            started = time.monotonic()
            response = stub(channel).ListConcepts(service_pb2.ListConceptsRequest(), timeout=0.3 if per_call else None)
            elapsed = time.monotonic() - started
        assert response.status.code == THROTTLED
        assert elapsed < 0.3 + 0.2, elapsed
    finally:
        srv.stop()


# ----------------------------------------------------------------------------------------------
# 12. Message size limits
# ----------------------------------------------------------------------------------------------


def _input_of(size: int) -> Any:
    data = resources_pb2.Data(image=resources_pb2.Image(base64=bytes(size)))
    return ok(service_pb2.SingleInputResponse, input=resources_pb2.Input(id="big", data=data))


def test_12_response_over_the_receive_limit_names_the_limit(no_secret_leaks: Seen) -> None:
    five = _input_of(5 * MIB)
    srv = scripted({"GetInput": lambda request, context: five})
    try:
        for kwargs in ({"defaults": DEFAULTS.replace(max_receive_message_length=MIB)},
                       {"options": [("grpc.max_receive_message_length", MIB)]}):
            with insecure(srv.address, auth=Auth.from_api_key(KEY), **kwargs) as channel:
                with expect(no_secret_leaks, ClarifaiRpcError, "RESOURCE_EXHAUSTED", "max_receive_message_length",
                            f"({MIB} bytes)", "DEFAULTS.replace(max_receive_message_length=N)",
                            "grpc.max_receive_message_length") as err:
                    stub(channel).GetInput(service_pb2.GetInputRequest(input_id="big"), timeout=10)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        srv.stop()


def test_12_request_over_the_send_limit_fails_locally(server: RecordingServer, no_secret_leaks: Seen) -> None:
    request = service_pb2.PostInputsRequest(inputs=[resources_pb2.Input(
        data=resources_pb2.Data(image=resources_pb2.Image(base64=bytes(2 * MIB))))])
    with insecure(server.address, defaults=DEFAULTS.replace(max_send_message_length=MIB)) as channel:
        with expect(no_secret_leaks, ClarifaiRpcError, "RESOURCE_EXHAUSTED", "max_send_message_length",
                    f"({MIB} bytes)"):
            stub(channel).PostInputs(request, timeout=10)
    assert server.calls == []


def test_12_default_limit_lets_200_mib_through() -> None:
    size = 200 * MIB
    srv = scripted({"GetInput": lambda request, context: _input_of(size)})
    try:
        with insecure(srv.address) as channel:
            started = time.monotonic()
            response = stub(channel).GetInput(service_pb2.GetInputRequest(input_id="big"), timeout=60)
            elapsed = time.monotonic() - started
        assert len(response.input.data.image.base64) == size
        print(f"case 12: 200 MiB response in {elapsed:.2f} s")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------------------------
# 13. MIXED_STATUS
# ----------------------------------------------------------------------------------------------


def test_13_mixed_status_names_the_failed_input(no_secret_leaks: Seen) -> None:
    def predict(request: Any, context: grpc.ServicerContext) -> Any:
        return service_pb2.MultiOutputResponse(
            status=status_pb2.Status(code=status_code_pb2.MIXED_STATUS, description="Mixed Success", req_id="r-13"),
            outputs=[
                resources_pb2.Output(id="o1", status=status_pb2.Status(code=SUCCESS), input=request.inputs[0],
                                     data=resources_pb2.Data(concepts=[resources_pb2.Concept(id="cat", value=0.9)])),
                resources_pb2.Output(id="o2", input=request.inputs[1], status=status_pb2.Status(
                    code=status_code_pb2.INPUT_DOWNLOAD_FAILED, description="Download failed")),
            ],
        )

    srv = scripted({"PostModelOutputs": predict})
    try:
        request = service_pb2.PostModelOutputsRequest(model_id="m", inputs=[
            resources_pb2.Input(id="in-ok", data=resources_pb2.Data(image=resources_pb2.Image(url="https://a/ok.jpg"))),
            resources_pb2.Input(id="in-bad", data=resources_pb2.Data(image=resources_pb2.Image(url="https://a/x.jpg"))),
        ])
        with insecure(srv.address, auth=Auth.from_api_key(KEY)) as channel:
            response = stub(channel).PostModelOutputs(request, timeout=5)
        with expect(no_secret_leaks, ClarifaiStatusError, "10010", "MIXED_STATUS", "in-bad", "30002",
                    "Download failed", "r-13") as err:
            raise_for_status(response, method="PostModelOutputs")
        assert "in-ok" not in str(err.value)
        (failure,) = err.value.failures
        assert (failure.id, failure.code, failure.index) == ("in-bad", 30002, 1)
        good = err.value.response.outputs[0]
        assert good.status.code == SUCCESS and good.input.id == "in-ok" and good.data.concepts[0].id == "cat"
    finally:
        srv.stop()


# ----------------------------------------------------------------------------------------------
# 14 and 15. Imports, in subprocesses
# ----------------------------------------------------------------------------------------------

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run_python(code: str, env: Optional[dict[str, str]] = None) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLARIFAI_", "PROTOCOL_BUFFERS_"))}
    base["PYTHONPATH"] = SRC + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env={**base, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


USE_THE_LIBRARY = """
    import os, sys
    before = dict(os.environ)
    try:
        import clarifai_client
        from clarifai_client.grpc.api import service_pb2, service_pb2_grpc
    except ImportError as err:
        print("IMPORT-ERROR", err)
        sys.exit(3)
    from google.protobuf.internal import api_implementation
    print("implementation", api_implementation.Type())
    request = service_pb2.ListConceptsRequest(page=2)
    assert service_pb2.ListConceptsRequest.FromString(request.SerializeToString()) == request
    auth = clarifai_client.Auth.from_api_key("{key}")
    with clarifai_client.ClarifaiChannel.get_insecure_grpc_channel("{address}", auth=auth) as channel:
        response = service_pb2_grpc.V2Stub(channel).ListConcepts(request, timeout=10)
    assert response.status.code == 10000
    assert dict(os.environ) == before, "the library edited os.environ"
    print("OK")
"""


def test_14_pure_python_protobuf_imports_and_works_without_editing_environ(server: RecordingServer) -> None:
    code = USE_THE_LIBRARY.format(key=KEY, address=server.address)
    procs = [_run_python(code, {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}), _run_python(code)]
    (out_py, err_py), (out, err) = (p.communicate(timeout=120) for p in procs)
    assert procs[1].returncode == 0, err
    if procs[0].returncode == 3:  # allowed: an ImportError that names the variable
        assert "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION" in out_py
    else:
        assert procs[0].returncode == 0, err_py
        assert "implementation python" in out_py and out_py.rstrip().endswith("OK")
    assert len(server.calls) >= 1
    assert not find_secrets([out_py, err_py, out, err])


CONFLICTS = {
    "published first": "import clarifai_grpc.grpc.api.service_pb2\nimport clarifai_client",
    "only one published module": "import clarifai_grpc.grpc.api.utils.extensions_pb2\nimport clarifai_client",
    "published after ours": (
        "import clarifai_client\nimport clarifai_grpc.grpc.api.service_pb2\n"
        "clarifai_client.ClarifaiChannel.get_insecure_grpc_channel('127.0.0.1:1')"
    ),
}


def test_15_published_clarifai_grpc_in_the_same_process_is_a_clear_import_error() -> None:
    try:
        import importlib.util
        if importlib.util.find_spec("clarifai_grpc") is None:
            pytest.skip("clarifai-grpc (a test dependency) is not installed, so the conflict cannot be shown")
    except ValueError:
        pass
    procs = {name: _run_python(code) for name, code in CONFLICTS.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0, name
        last = err.strip().splitlines()[-1]
        assert last.startswith("ImportError: clarifai_client cannot"), (name, last[:300])
        assert "clarifai_grpc is already loaded" in last and "Fix:" in last, name
        assert "duplicate symbol" not in err, name


# ----------------------------------------------------------------------------------------------
# 16. Secrets: masked reprs, and the scanner itself
# ----------------------------------------------------------------------------------------------


def test_16_reprs_show_at_most_a_masked_token(server: RecordingServer) -> None:
    key, pat = Auth.from_api_key(KEY), Auth.from_pat(PAT, user_id="u1", app_id="a1")
    sync = insecure(server.address, auth=key)
    aio = ClarifaiChannel.get_aio_insecure_grpc_channel(server.address, auth=pat)
    policy = sync.policy  # type: ignore[attr-defined]
    shown = [repr(key), str(key), repr(pat), str(pat), key.masked, pat.masked, repr(sync), str(sync), repr(aio),
             str(aio), repr(DEFAULTS), repr(policy), repr(policy.defaults), f"{key}", f"{pat!r}"]
    sync.close()
    assert not find_secrets(shown)
    assert f"<{len(KEY)} chars, ends '…{KEY[-2:]}'>" in repr(key)
    assert "u1" in repr(pat) and "a1" in repr(pat)
    import pickle
    with pytest.raises(TypeError, match="not picklable") as err:
        pickle.dumps(key)
    assert not find_secrets(exception_texts(err.value))


def test_16_the_scanner_finds_a_planted_leak(caplog: pytest.LogCaptureFixture) -> None:
    # The search is meaningful: a token in a log record, a warning or a chained cause is found.
    try:
        try:
            raise RuntimeError(f"inner {PAT}")
        except RuntimeError as inner:
            raise ValueError("outer") from inner
    except ValueError as outer:
        assert find_secrets(exception_texts(outer)) == [PAT]
    logging.getLogger("some.library").debug("token=%s", KEY)
    assert find_secrets([r.getMessage() for r in caplog.records]) == [KEY]
    caplog.clear()  # keep the planted leak out of this test's own scan

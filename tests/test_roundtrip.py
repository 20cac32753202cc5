"""Byte-exact round trips between our generated code and the published package (clarifai-grpc).

Every request and response type of the V2 service (and, as a bonus, every other message type
they reach) is filled with non-default values by tests/_wire/filler.py, in several variants so
each oneof member is set at least once. One subprocess runs the published package: it builds the
same messages from its own descriptors and re-serializes ours; this process does the mirror
image with our package. Every direction must reproduce the bytes exactly, and nothing may be
parsed as an unknown field.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _wire import facts as wire_facts
from _wire import filler
from _wire.report import publish

PEER = Path(__file__).resolve().parent / "_wire" / "roundtrip_peer.py"
SHOW = 50


@pytest.fixture(scope="module")
def exchange() -> dict[str, Any]:
    wire_facts.import_all_pb2("clarifai_client")
    plan = filler.plan()
    built, members_set = filler.build_all(plan["keys"])
    request = {"ours": {k: base64.b64encode(v).decode() for k, v in built.items()}}
    proc = subprocess.run(
        [sys.executable, str(PEER), "clarifai_grpc"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"roundtrip_peer.py failed:\n{proc.stderr[-3000:]}"
    reply = json.loads(proc.stdout)
    return {"plan": plan, "built": built, "members_set": members_set, "reply": reply}


def decode(text: str) -> bytes:
    return base64.b64decode(text)


def report(failures: list[str], what: str) -> str:
    lines = failures[:SHOW]
    if len(failures) > SHOW:
        lines.append(f"... and {len(failures) - SHOW} more")
    return f"{len(failures)} {what}:\n  " + "\n  ".join(lines)


def test_both_sides_plan_the_same_types(exchange: dict[str, Any], request: Any) -> None:
    plan, peer_plan = exchange["plan"], exchange["reply"]["plan"]
    assert plan == peer_plan
    requests, responses = filler.service_types()
    rpc_types = set(requests) | set(responses)
    covered = {key.rsplit("#", 1)[0] for key in plan["keys"]} & rpc_types
    assert len(requests) == 273
    assert len(covered) == len(rpc_types) == len(set(plan["requests"]) | set(plan["responses"]))
    publish(
        request.config,
        "round trip with clarifai-grpc 12.6.0",
        [
            f"request+response types covered: {len(covered)}/{len(rpc_types)} "
            f"({len(set(requests))} request, {len(set(responses))} response types of "
            f"{len(requests)} RPCs), plus {len(plan['extra'])} other reachable message types",
            f"messages built per side: {len(plan['keys'])} (oneof variants included), "
            f"{sum(map(len, exchange['built'].values()))} bytes, nesting depth "
            f"{filler.MAX_DEPTH}, {filler.REPEATED} elements per repeated field and map",
            "directions checked: API -> ours -> bytes, ours -> API -> bytes, and API bytes == "
            "our bytes for the same filled message",
        ],
    )


def test_api_bytes_parse_and_reserialize_identically_with_ours(exchange: dict[str, Any]) -> None:
    built = exchange["reply"]["built"]
    assert len(built) == len(exchange["plan"]["keys"])
    failures = []
    for key, text in built.items():
        data = decode(text)
        kept, known = filler.echo(key, data)
        if kept != data:
            failures.append(f"{key}: re-serialized bytes differ ({len(data)} -> {len(kept)})")
        elif known != data:
            failures.append(f"{key}: ours parsed unknown fields (a field number it lacks)")
    assert not failures, report(failures, "API messages did not survive our parser")


def test_our_bytes_parse_and_reserialize_identically_with_the_api(
    exchange: dict[str, Any],
) -> None:
    reply = exchange["reply"]
    assert not reply["errors"], report(
        [f"{k}: {v}" for k, v in sorted(reply["errors"].items())], "parse errors in the API"
    )
    assert set(reply["echoed"]) == set(exchange["built"])
    failures = []
    for key, data in exchange["built"].items():
        kept, known = (decode(t) for t in reply["echoed"][key])
        if kept != data:
            failures.append(f"{key}: re-serialized bytes differ ({len(data)} -> {len(kept)})")
        elif known != data:
            failures.append(f"{key}: the API parsed unknown fields (a field number it lacks)")
    assert not failures, report(failures, "of our messages did not survive the API's parser")


def test_both_sides_build_the_same_bytes(exchange: dict[str, Any]) -> None:
    theirs = exchange["reply"]["built"]
    failures = [
        f"{key}: API {len(decode(theirs[key]))} bytes, ours {len(data)} bytes"
        for key, data in exchange["built"].items()
        if decode(theirs[key]) != data
    ]
    assert not failures, report(failures, "messages serialize differently")


def test_every_field_and_oneof_member_is_exercised(exchange: dict[str, Any]) -> None:
    """The filler really sets every field of every root type (over its variants)."""
    plan = exchange["plan"]
    names = [*sorted(set(plan["requests"]) | set(plan["responses"])), *plan["extra"]]
    members = filler.all_oneof_members(names)
    assert members, "no oneof at all: the filler would not be tested"
    missing = sorted(members - exchange["members_set"])
    assert not missing, report(missing, "oneof members never set")
    assert not members - set(exchange["reply"]["oneof_members_set"])

    pool_types: dict[str, set[str]] = {}
    for key, data in exchange["built"].items():
        name = key.rsplit("#", 1)[0]
        msg = filler.parse(name, data)
        assert data or not filler.field_names(name), f"{key}: built an empty message"
        pool_types.setdefault(name, set()).update(f.name for f, _ in msg.ListFields())
    unset = [
        f"{name}.{field}"
        for name, seen in sorted(pool_types.items())
        for field in filler.field_names(name)
        if field not in seen
    ]
    assert not unset, report(unset, "fields never set to a non-default value")


def test_a_changed_byte_is_noticed(exchange: dict[str, Any]) -> None:
    """The byte comparison is not vacuous: a different field number or value breaks it."""
    key = next(k for k in exchange["plan"]["keys"] if k.startswith("clarifai.api.Model#"))
    data = exchange["built"][key]
    msg = filler.parse("clarifai.api.Model", data)
    msg.id = msg.id + "x"
    assert msg.SerializeToString(deterministic=True) != data
    # Field 1 re-tagged as field 2047 (same wire type): parses into an unknown field.
    retagged = b"\xfa\x7f" + data[1:] if data[0] == 0x0A else None
    assert retagged is not None, "Model#0 no longer starts with field 1 (id)"
    _kept, known = filler.echo(key, retagged)
    assert known != retagged

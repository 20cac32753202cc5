"""Our proto/ definitions against the published API (clarifai-grpc), definition by definition.

Both packages register the same protobuf symbols, so each one is read in its own interpreter by
tests/_wire/facts.py, which prints the facts as JSON; the comparison happens here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _wire.report import publish

FACTS_SCRIPT = Path(__file__).resolve().parent / "_wire" / "facts.py"

# The closure as the issue states it.
EXPECTED = {"rpcs": 273, "messages": 697, "fields": 2810, "enum_values": 861}
SHOW = 50

# Definitions are compared whole, minus these keys (and the reasons printed with the report).
NOT_COMPARED_MESSAGE_KEYS = ("reserved_numbers", "reserved_names")
OMITTED = [
    "enum-value option [clarifai.api.utils.description]: English prose for documentation; it "
    "changes nothing on the wire or in routing (set on {description} enum values in the API)",
    "file-level options (java_package, go_package, objc_class_prefix, ...): code-generation "
    "settings of other languages, not facts of the API",
    "file names: ours are clarifai/..., the API's are proto/clarifai/... (not on the wire)",
    "reserved field numbers and names: they only guard future edits of the .proto source and are "
    "not on the wire (the API declares {reserved} reserved ranges in {reserved_msgs} messages, "
    "ours {ours_reserved}); any field of ours that used such a number would show up as a field "
    "the API does not have",
]


def run_facts(packages: list[str]) -> list[dict[str, Any]]:
    """Run facts.py once per package, all in parallel; return their JSON documents."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(FACTS_SCRIPT), package],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for package in packages
    ]
    results = []
    for package, proc in zip(packages, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"facts.py {package} failed:\n{err[-3000:]}"
        results.append(json.loads(out))
    return results


@pytest.fixture(scope="module")
def facts() -> dict[str, dict[str, Any]]:
    oracle, ours = run_facts(["clarifai_grpc", "clarifai_client"])
    assert oracle["package"] == "clarifai_grpc" and ours["package"] == "clarifai_client"
    return {"oracle": oracle, "ours": ours}


# ----- comparison ------------------------------------------------------------------------------
def comparable_message(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in NOT_COMPARED_MESSAGE_KEYS}


def diff(api: Any, ours: Any, where: str, out: list[str]) -> None:
    """Append one readable line per difference between two JSON values."""
    if isinstance(api, dict) and isinstance(ours, dict):
        for key in sorted(set(api) | set(ours), key=str):
            if key not in ours:
                out.append(f"{where} / {key}: missing in ours (API has {short(api[key])})")
            elif key not in api:
                out.append(f"{where} / {key}: ours has it, the API does not ({short(ours[key])})")
            else:
                diff(api[key], ours[key], f"{where} / {key}", out)
    elif api != ours:
        out.append(f"{where}: API {short(api)} != ours {short(ours)}")


def short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def named_sections(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compared parts of a facts document, each a {name: definition} mapping."""
    return {
        "service": {doc["service"]["name"]: doc["service"]},
        "rpc": doc["methods"],
        "message": {n: comparable_message(m) for n, m in doc["messages"].items()},
        "enum": doc["enums"],
        "extension": doc["extensions"],
        "API file": {name: True for name in doc["api_files"]},
    }


def compare(api: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    api_sections, our_sections = named_sections(api), named_sections(ours)
    for kind, api_defs in api_sections.items():
        our_defs = our_sections[kind]
        for name in sorted(set(api_defs) | set(our_defs)):
            if name not in our_defs:
                problems.append(f"{kind} {name}: missing in ours")
            elif name not in api_defs:
                problems.append(f"{kind} {name}: defined by us, not in the API")
            else:
                diff(api_defs[name], our_defs[name], f"{kind} {name}", problems)
    return problems


def coverage(api: dict[str, Any], ours: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(matching, total) per counted kind, totals taken from the API's side.

    Counting rule: service.proto and its transitive imports; messages declared there whose full
    name is in the clarifai.* namespace (nested types and map entries included), their fields,
    and every enum value declared there. A definition counts as matching when ours has it and it
    compares equal in every fact.
    """
    api_msgs = {n: comparable_message(m) for n, m in api["messages"].items()}
    our_msgs = {n: comparable_message(m) for n, m in ours["messages"].items()}
    counted = [n for n in api["declared_messages"] if n.startswith("clarifai.")]
    rpcs = sum(ours["methods"].get(n) == m for n, m in api["methods"].items())
    msgs = sum(our_msgs.get(n) == api_msgs[n] for n in counted)
    fields_total = sum(len(api_msgs[n]["fields"]) for n in counted)
    fields = sum(
        our_msgs.get(n, {}).get("fields", {}).get(f) == spec
        for n in counted
        for f, spec in api_msgs[n]["fields"].items()
    )
    values_total = sum(len(api["enums"][e]["values"]) for e in api["declared_enums"])
    values = sum(
        ours["enums"].get(e, {}).get("values", {}).get(v) == spec
        for e in api["declared_enums"]
        for v, spec in api["enums"][e]["values"].items()
    )
    return {
        "rpcs": (rpcs, len(api["methods"])),
        "messages": (msgs, len(counted)),
        "fields": (fields, fields_total),
        "enum_values": (values, values_total),
    }


def counting_explanation(api: dict[str, Any]) -> str:
    declared = api["declared_messages"]
    outside = [n for n in declared if not n.startswith("clarifai.")]
    maps = [n for n in declared if api["messages"][n]["options"].get("map_entry")]
    unreached = sorted(set(declared) - set(api["reached_messages"]))
    return (
        f"counting rule: the {len(api['api_files'])} files of service.proto's import closure; "
        f"messages declared there in the clarifai.* namespace ({len(maps)} map entries and "
        f"{len(unreached)} types no RPC reaches, e.g. ScopeList, included; {', '.join(outside)} "
        "is left out: matrix.proto declares no package), their fields, and every enum value "
        "declared there"
    )


def format_problems(problems: list[str]) -> str:
    lines = problems[:SHOW]
    if len(problems) > SHOW:
        lines.append(f"... and {len(problems) - SHOW} more")
    return f"{len(problems)} difference(s) from the API:\n  " + "\n  ".join(lines)


# ----- tests -----------------------------------------------------------------------------------
def test_definitions_match_the_api(facts: dict[str, dict[str, Any]], request: Any) -> None:
    api, ours = facts["oracle"], facts["ours"]
    cov = coverage(api, ours)
    reserved = [m for m in api["messages"].values() if m["reserved_numbers"]]
    ours_reserved = sum(len(m["reserved_numbers"]) for m in ours["messages"].values())
    fmt = {
        "description": api["omitted_seen"].get("enum_value:clarifai.api.utils.description", 0),
        "reserved": sum(len(m["reserved_numbers"]) for m in reserved),
        "reserved_msgs": len(reserved),
        "ours_reserved": ours_reserved,
    }
    lines = [
        "coverage: "
        + ", ".join(
            f"{label} {cov[key][0]}/{EXPECTED[key]}"
            for key, label in [
                ("rpcs", "RPCs"),
                ("messages", "messages"),
                ("fields", "fields"),
                ("enum_values", "enum values"),
            ]
        ),
        counting_explanation(api),
        "not compared (on purpose):",
        *(f"  - {text.format(**fmt)}" for text in OMITTED),
    ]
    publish(request.config, "conformance with clarifai-grpc 12.6.0", lines)

    problems = compare(api, ours)
    assert not problems, format_problems(problems)
    totals = {key: total for key, (_, total) in cov.items()}
    assert totals == EXPECTED, f"the API's closure by the counting rule is {totals}"
    matched = {key: hit for key, (hit, _) in cov.items()}
    assert matched == EXPECTED


def test_facts_are_not_empty(facts: dict[str, dict[str, Any]]) -> None:
    """The extractor really sees options, oneofs and enum details on both sides."""
    for side in ("oracle", "ours"):
        doc = facts[side]
        method = doc["methods"]["PostConceptRelations"]
        assert method["options"]["[google.api.http]"].startswith("post: ")
        assert method["options"]["[clarifai.auth.util.cl_auth_type]"] == "PATAuth=5"
        assert any(
            "additional_bindings" in m["options"].get("[google.api.http]", "")
            for m in doc["methods"].values()
        )
        assert any(m["oneofs"] for m in doc["messages"].values())
        assert any(m["options"].get("deprecated") for m in doc["messages"].values())
        assert any(e["options"].get("allow_alias") for e in doc["enums"].values())
        assert doc["extensions"]["clarifai.auth.util.cl_auth_type"]["number"] == 80323


def with_change(doc: dict[str, Any], change: Any) -> dict[str, Any]:
    """A copy of doc with one change; only the dicts on the changed path are copied."""
    path, action = change
    mutated = dict(doc)
    node = mutated
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    action(node, path[-1])
    return mutated


def set_in(path: list[str], value: Any) -> Any:
    return path, lambda node, key: node.__setitem__(key, value)


def drop(path: list[str]) -> Any:
    return path, lambda node, key: node.__delitem__(key)


def test_comparer_catches_changes(facts: dict[str, dict[str, Any]]) -> None:
    """Mutated copies of the facts must fail, both when ours lacks and when ours adds."""
    api, ours = facts["oracle"], facts["ours"]
    model = api["messages"]["clarifai.api.Model"]
    oneof_msg, oneof_field = next(
        (n, f)
        for n, m in sorted(api["messages"].items())
        for f, spec in sorted(m["fields"].items())
        if spec["oneof"]
    )
    http_rpc = next(
        n
        for n, m in sorted(api["methods"].items())
        if "additional_bindings" in m["options"]["[google.api.http]"]
    )
    http = api["methods"][http_rpc]["options"]["[google.api.http]"]
    cases = {
        "field number": (
            set_in(
                ["messages", "clarifai.api.Model", "fields", "id", "number"],
                model["fields"]["id"]["number"] + 100,
            ),
            "message clarifai.api.Model / fields / id / number",
        ),
        "removed rpc": (drop(["methods", "PostConceptRelations"]), "rpc PostConceptRelations"),
        "extra message": (
            set_in(["messages", "clarifai.api.NotInTheApi"], model),
            "message clarifai.api.NotInTheApi: defined by us",
        ),
        "extra field": (
            set_in(["messages", "clarifai.api.Model", "fields", "zz_extra"], model["fields"]["id"]),
            "fields / zz_extra: ours has it",
        ),
        "oneof membership": (
            set_in(["messages", oneof_msg, "fields", oneof_field, "oneof"], None),
            f"message {oneof_msg} / fields / {oneof_field} / oneof",
        ),
        "additional binding": (
            set_in(
                ["methods", http_rpc, "options", "[google.api.http]"],
                http.split(" additional_bindings")[0],
            ),
            f"rpc {http_rpc} / options / [google.api.http]",
        ),
        "auth type": (
            set_in(
                ["methods", "PostConceptRelations", "options", "[clarifai.auth.util.cl_auth_type]"],
                "KeyAuth=1",
            ),
            "[clarifai.auth.util.cl_auth_type]",
        ),
        "enum value number": (
            set_in(["enums", "clarifai.api.status.StatusCode", "values", "SUCCESS", "number"], 1),
            "enum clarifai.api.status.StatusCode / values / SUCCESS / number",
        ),
        "removed enum value": (
            drop(["enums", "clarifai.api.status.StatusCode", "values", "SUCCESS"]),
            "values / SUCCESS: missing in ours",
        ),
    }
    for label, (change, expected) in cases.items():
        mutated = with_change(ours, change)
        problems = compare(api, mutated)
        assert problems, f"{label}: the comparer saw no difference"
        assert any(expected in p for p in problems), f"{label}: {problems[:5]}"
        # The same change on the API's side must be caught from the other direction.
        assert compare(with_change(api, change), ours), f"{label} (reversed) went unnoticed"
    # The coverage counts drop by exactly the definitions a change touches.
    base = coverage(api, ours)
    lost = coverage(api, with_change(ours, cases["field number"][0]))
    assert lost["fields"][0] == base["fields"][0] - 1
    assert lost["messages"][0] == base["messages"][0] - 1
    assert lost["rpcs"] == base["rpcs"]
    lost = coverage(api, with_change(ours, cases["removed rpc"][0]))
    assert lost["rpcs"][0] == base["rpcs"][0] - 1
    lost = coverage(api, with_change(ours, cases["enum value number"][0]))
    assert lost["enum_values"][0] == base["enum_values"][0] - 1

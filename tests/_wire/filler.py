"""Deterministic, descriptor-driven filling of protobuf messages with non-default values.

Imported by tests/test_roundtrip.py (for our package) and by tests/_wire/roundtrip_peer.py (for
the published package, in its own interpreter). Nothing here imports either package: it works
on whatever descriptors the default pool holds, so both sides build messages the same way.

Values depend only on field numbers, names, nesting depth and the variant index, never on
hashing or iteration order of Python objects, so two processes produce the same messages.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

SERVICE = "clarifai.api.V2"

# Depth of the root message is 0. Message-typed fields of a message at MAX_DEPTH are still set,
# but as empty (present) sub-messages, so every field carries a non-default value.
MAX_DEPTH = 3
REPEATED = 2

_SIGNED = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
}
_WIDE = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
}


def service_types() -> tuple[list[str], list[str]]:
    """(request type names, response type names) of every RPC, in declaration order."""
    service = descriptor_pool.Default().FindServiceByName(SERVICE)
    requests = [m.input_type.full_name for m in service.methods]
    responses = [m.output_type.full_name for m in service.methods]
    return requests, responses


def reachable_messages(roots: list[str]) -> list[str]:
    """Every message type reachable through fields from the roots (roots included), sorted."""
    pool = descriptor_pool.Default()
    seen: dict[str, Descriptor] = {}
    stack = [pool.FindMessageTypeByName(name) for name in roots]
    while stack:
        desc = stack.pop()
        if desc.full_name in seen:
            continue
        seen[desc.full_name] = desc
        stack.extend(f.message_type for f in desc.fields if f.message_type is not None)
    return sorted(seen)


def variants_of(desc: Descriptor) -> int:
    """How many instances of a root type are needed so that each oneof member is set once."""
    sizes = [len(o.fields) for o in real_oneofs(desc)]
    return max([1, *sizes])


_SYNTHETIC: dict[str, frozenset[str]] = {}


def real_oneofs(desc: Descriptor) -> list[Any]:
    """The oneofs of a message except the synthetic ones protoc makes for proto3 `optional`."""
    synthetic = _synthetic_oneofs(desc)
    return [o for o in desc.oneofs if o.name not in synthetic]


def _synthetic_oneofs(desc: Descriptor) -> frozenset[str]:
    names = _SYNTHETIC.get(desc.full_name)
    if names is None:
        proto = descriptor_pb2.DescriptorProto()
        desc.CopyToProto(proto)
        names = frozenset(
            proto.oneof_decl[f.oneof_index].name
            for f in proto.field
            if f.proto3_optional and f.HasField("oneof_index")
        )
        _SYNTHETIC[desc.full_name] = names
    return names


class Filler:
    """Builds filled messages and records which oneof members were exercised."""

    def __init__(self) -> None:
        self.oneof_members_set: set[str] = set()
        self.pool = descriptor_pool.Default()

    def build(self, type_name: str, variant: int) -> Any:
        desc = self.pool.FindMessageTypeByName(type_name)
        msg = message_factory.GetMessageClass(desc)()
        self.fill(msg, 0, variant)
        return msg

    # ----- values --------------------------------------------------------------------------
    def scalar(self, field: FieldDescriptor, seed: int) -> Any:
        kind = field.type
        if kind == FieldDescriptor.TYPE_BOOL:
            return True
        if kind == FieldDescriptor.TYPE_STRING:
            return f"{field.name}-{seed}-\u00e9"
        if kind == FieldDescriptor.TYPE_BYTES:
            return bytes([seed % 256, 0, 255]) + field.name.encode()
        if kind == FieldDescriptor.TYPE_FLOAT:
            return seed + 0.25
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return seed * 1024.0 + 0.125
        if kind == FieldDescriptor.TYPE_ENUM:
            values = sorted(v.number for v in field.enum_type.values if v.number != 0)
            if not values:  # e.g. google.protobuf.NullValue has only its zero value
                return 0
            return values[seed % len(values)]
        if kind in _SIGNED:
            magnitude = seed + 1 + (2**40 if kind in _WIDE else 1000)
            return -magnitude if seed % 2 else magnitude
        if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return 2**63 + seed
        if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
            return 2**31 + seed
        raise AssertionError(f"unhandled field type {kind} of {field.full_name}")

    def map_keys(self, key_field: FieldDescriptor, seed: int) -> list[Any]:
        if key_field.type == FieldDescriptor.TYPE_STRING:
            return [f"k{seed}a", f"k{seed}b"]
        if key_field.type == FieldDescriptor.TYPE_BOOL:
            return [False, True]
        first = self.scalar(key_field, seed)
        return [first, first + 1 if first >= 0 else first - 1]

    # ----- messages ------------------------------------------------------------------------
    def fill(self, msg: Any, depth: int, variant: int) -> None:
        desc = msg.DESCRIPTOR
        special = _WELL_KNOWN.get(desc.full_name)
        if special is not None:
            special(self, msg, depth, variant)
            return
        chosen: set[str] = set()
        real = real_oneofs(desc)
        for oneof in real:
            member = oneof.fields[(variant + depth) % len(oneof.fields)]
            chosen.add(member.name)
            self.oneof_members_set.add(member.full_name)
        for field in desc.fields:
            oneof = field.containing_oneof
            if oneof is not None and field.name not in chosen and oneof in real:
                continue
            self.fill_field(msg, field, depth, variant)

    def fill_field(self, msg: Any, field: FieldDescriptor, depth: int, variant: int) -> None:
        seed = field.number + 7 * depth + variant
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            target = getattr(msg, field.name)
            key_field, value_field = sub.fields_by_name["key"], sub.fields_by_name["value"]
            for i, key in enumerate(self.map_keys(key_field, seed)):
                if value_field.message_type is not None:
                    self.fill_child(target[key], depth + 1, variant + i)
                else:
                    target[key] = self.scalar(value_field, seed + i)
            return
        if field.is_repeated:
            target = getattr(msg, field.name)
            for i in range(REPEATED):
                if sub is not None:
                    self.fill_child(target.add(), depth + 1, variant + i)
                else:
                    target.append(self.scalar(field, seed + i))
            return
        if sub is not None:
            self.fill_child(getattr(msg, field.name), depth + 1, variant)
            return
        setattr(msg, field.name, self.scalar(field, seed))

    def fill_child(self, child: Any, depth: int, variant: int) -> None:
        if depth <= MAX_DEPTH or child.DESCRIPTOR.full_name in _WELL_KNOWN:
            self.fill(child, depth, variant)
        child.SetInParent()


def _timestamp(_: Filler, msg: Any, depth: int, variant: int) -> None:
    msg.seconds = 1_700_000_000 + 97 * depth + variant
    msg.nanos = 123_000_000 + variant


def _duration(_: Filler, msg: Any, depth: int, variant: int) -> None:
    msg.seconds = 3600 + depth + variant
    msg.nanos = 500_000 + variant


def _struct(filler: Filler, msg: Any, depth: int, variant: int) -> None:
    # A small fixed shape that touches every Value kind; nested structs stop at one level.
    msg["number"] = 1.5 + variant
    msg["text"] = f"s{depth}-{variant}"
    msg["flag"] = True
    msg["nothing"] = None
    msg["items"] = [1.0, "two", False]
    if depth <= MAX_DEPTH + 1:
        msg.get_or_create_struct("inner")["leaf"] = f"leaf{variant}"


def _value(filler: Filler, msg: Any, depth: int, variant: int) -> None:
    kinds = msg.DESCRIPTOR.oneofs_by_name["kind"].fields
    member = kinds[variant % len(kinds)]
    filler.oneof_members_set.add(member.full_name)
    if member.name == "null_value":
        msg.null_value = 0
    elif member.name == "number_value":
        msg.number_value = 2.5 + variant
    elif member.name == "string_value":
        msg.string_value = f"v{variant}"
    elif member.name == "bool_value":
        msg.bool_value = True
    elif member.name == "struct_value":
        _struct(filler, msg.struct_value, depth + 1, variant)
    else:
        _list_value(filler, msg.list_value, depth + 1, variant)


def _list_value(filler: Filler, msg: Any, depth: int, variant: int) -> None:
    msg.values.add().string_value = f"item{variant}"
    msg.values.add().number_value = 7.0 + depth


_WELL_KNOWN = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
    "google.protobuf.Struct": _struct,
    "google.protobuf.Value": _value,
    "google.protobuf.ListValue": _list_value,
}


# ----- what both sides of the round trip run --------------------------------------------------
def plan() -> dict[str, Any]:
    """The types to build: request/response types of every RPC, then every other reachable type.

    Returns {"requests", "responses", "extra", "keys"}, where keys are "<type>#<variant>".
    """
    requests, responses = service_types()
    roots = sorted(set(requests) | set(responses))
    extra = [name for name in reachable_messages(roots) if name not in set(roots)]
    pool = descriptor_pool.Default()
    keys = [
        f"{name}#{variant}"
        for name in [*roots, *extra]
        for variant in range(variants_of(pool.FindMessageTypeByName(name)))
    ]
    return {
        "requests": sorted(set(requests)),
        "responses": sorted(set(responses)),
        "extra": extra,
        "keys": keys,
    }


def build_all(keys: list[str]) -> tuple[dict[str, bytes], set[str]]:
    """Serialize (deterministically) one filled message per key; also the oneof members set."""
    filler = Filler()
    out = {}
    for key in keys:
        name, variant = key.rsplit("#", 1)
        out[key] = filler.build(name, int(variant)).SerializeToString(deterministic=True)
    return out, filler.oneof_members_set


def echo(key: str, data: bytes) -> tuple[bytes, bytes]:
    """Parse data as the key's type and re-serialize it: (as parsed, with unknown fields dropped).

    The second value differs from the first when the parser did not know some field numbers.
    """
    msg = parse(key.rsplit("#", 1)[0], data)
    kept = msg.SerializeToString(deterministic=True)
    msg.DiscardUnknownFields()
    return kept, msg.SerializeToString(deterministic=True)


def all_oneof_members(names: list[str]) -> set[str]:
    pool = descriptor_pool.Default()
    members = set()
    for name in names:
        for oneof in real_oneofs(pool.FindMessageTypeByName(name)):
            members.update(f.full_name for f in oneof.fields)
    return members


def parse(type_name: str, data: bytes) -> Any:
    desc = descriptor_pool.Default().FindMessageTypeByName(type_name)
    msg = message_factory.GetMessageClass(desc)()
    msg.ParseFromString(data)
    return msg


def field_names(type_name: str) -> list[str]:
    return [f.name for f in descriptor_pool.Default().FindMessageTypeByName(type_name).fields]

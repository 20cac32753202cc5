"""The published package's side of the round trip, run in its own interpreter.

    python tests/_wire/roundtrip_peer.py clarifai_grpc < request.json > reply.json

Request: {"ours": {"<type>#<variant>": base64}}: messages serialized by our package.
Reply: the plan this package derives from its own descriptors, the messages it builds with the
shared filler, and its re-serialization of each of our messages (as parsed, and with unknown
fields dropped).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _wire import facts, filler


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: roundtrip_peer.py PACKAGE < request.json", file=sys.stderr)
        return 2
    facts.import_all_pb2(argv[0])
    request = json.load(sys.stdin)
    plan = filler.plan()
    built, members_set = filler.build_all(plan["keys"])
    echoed = {}
    errors = {}
    for key, text in request["ours"].items():
        try:
            kept, known = filler.echo(key, base64.b64decode(text))
        except Exception as exc:  # reported per message, the test fails on any
            errors[key] = f"{type(exc).__name__}: {exc}"
            continue
        echoed[key] = [base64.b64encode(kept).decode(), base64.b64encode(known).decode()]
    reply = {
        "plan": plan,
        "built": {k: base64.b64encode(v).decode() for k, v in built.items()},
        "echoed": echoed,
        "errors": errors,
        "oneof_members_set": sorted(members_set),
    }
    json.dump(reply, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

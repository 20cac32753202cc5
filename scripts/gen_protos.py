"""Compile proto/ into the generated tree src/clarifai_client/grpc (or check that it is fresh).

Usage:
    python scripts/gen_protos.py          # regenerate and replace the whole generated tree
    python scripts/gen_protos.py --check  # regenerate into a temp dir; fail with a diff if stale

The generator versions are pinned below and asserted before anything runs: the same inputs and
the same tools give the same bytes, so ``--check`` can compare byte for byte.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GENERATED_DIR = ROOT / "src" / "clarifai_client" / "grpc"
PACKAGE_PREFIX = "clarifai_client.grpc"

# Exact generator versions. grpcio-tools 1.72.1 bundles protoc 30.0, so the gencode version is
# protobuf 6.30.0 and the generated stubs need grpcio>=1.72.1: pyproject's runtime floors follow.
PINNED_TOOLS = {"grpcio-tools": "1.72.1", "mypy-protobuf": "5.1.0"}

HEADER = '''"""Generated from proto/ by scripts/gen_protos.py. Do not edit: regenerate instead.

Generator: {tools}.
"""
'''


def fail(message: str) -> None:
    print(f"gen_protos: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_tool_versions() -> None:
    for dist, wanted in PINNED_TOOLS.items():
        try:
            found = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found = None
        if found != wanted:
            pins = " ".join(f"{d}=={v}" for d, v in PINNED_TOOLS.items())
            fail(
                f"{dist}=={wanted} is required (found {found or 'nothing'}). "
                f"Install the pinned generators: python -m pip install {pins} "
                "(or: python -m pip install -e '.[test]')"
            )


def plugin_path(name: str) -> str:
    """Locate a protoc plugin installed as a console script next to this interpreter."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    fail(f"protoc plugin {name} not found; install mypy-protobuf=={PINNED_TOOLS['mypy-protobuf']}")
    raise AssertionError("unreachable")


def include_dirs() -> list[str]:
    import grpc_tools
    from google.api import http_pb2

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(http_pb2.__file__).parent.parent.parent
    return [str(PROTO_DIR), str(well_known), str(googleapis)]


def run_protoc(out_dir: Path) -> None:
    protos = sorted(p.relative_to(PROTO_DIR).as_posix() for p in PROTO_DIR.rglob("*.proto"))
    if not protos:
        fail(f"no .proto files under {PROTO_DIR}")
    args = [sys.executable, "-m", "grpc_tools.protoc"]
    args += [f"-I{d}" for d in include_dirs()]
    args += [
        f"--plugin=protoc-gen-mypy={plugin_path('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_path('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out=quiet:{out_dir}",
        f"--mypy_grpc_out=quiet:{out_dir}",
        *protos,
    ]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    noise = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0 or noise:
        fail("protoc failed or warned:\n" + result.stderr)


# `from clarifai.api import x_pb2`, `import clarifai.api.x_pb2`, and dotted references to the
# generated modules in stubs: every path that ends in a *_pb2 / *_pb2_grpc module is rewritten.
# Proto full names ("/clarifai.api.V2/Method", "clarifai.api.Model") never end in _pb2.
_MODULE_PATH = re.compile(r"\bclarifai((?:\.\w+)*?\.\w+_pb2(?:_grpc)?)\b")
_FROM_PACKAGE = re.compile(r"^from clarifai((?:\.\w+)+) import ", re.MULTILINE)
_BUILDER_NAME = re.compile(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')clarifai\.")


def fix_imports(text: str) -> str:
    text = _FROM_PACKAGE.sub(lambda m: f"from {PACKAGE_PREFIX}{m.group(1)} import ", text)
    text = _BUILDER_NAME.sub(lambda m: f"{m.group(1)}{PACKAGE_PREFIX}.", text)
    text = _MODULE_PATH.sub(lambda m: f"{PACKAGE_PREFIX}{m.group(1)}", text)
    return text


def build_tree(work: Path) -> Path:
    """Generate into work/ and return the finished package directory (the new grpc/)."""
    raw = work / "raw"
    raw.mkdir()
    run_protoc(raw)
    tree = work / "grpc"
    shutil.move(str(raw / "clarifai"), str(tree))
    leftovers = [p.name for p in raw.iterdir()]
    if leftovers:
        fail(f"unexpected files outside clarifai/: {leftovers}")
    for path in sorted(tree.rglob("*")):
        if path.suffix in (".py", ".pyi"):
            path.write_text(fix_imports(path.read_text(encoding="utf-8")), encoding="utf-8")
    tools = ", ".join(f"{d} {v}" for d, v in PINNED_TOOLS.items())
    for directory in [tree, *sorted(p for p in tree.rglob("*") if p.is_dir())]:
        init = directory / "__init__.py"
        if directory == tree:
            init.write_text(HEADER.format(tools=tools))
        elif not init.exists():
            init.write_text("")
    return tree


def snapshot(tree: Path) -> dict[str, bytes]:
    if not tree.exists():
        return {}
    return {
        p.relative_to(tree).as_posix(): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def check(fresh: Path) -> int:
    new, old = snapshot(fresh), snapshot(GENERATED_DIR)
    if new == old:
        print(f"gen_protos: {GENERATED_DIR.relative_to(ROOT)} is up to date ({len(new)} files)")
        return 0
    print("gen_protos: the generated tree is stale; run: python scripts/gen_protos.py", file=sys.stderr)
    shown = 0
    for name in sorted(set(new) | set(old)):
        if new.get(name) == old.get(name):
            continue
        if name not in new:
            print(f"  only in the committed tree (orphan): {name}", file=sys.stderr)
            continue
        if name not in old:
            print(f"  missing from the committed tree: {name}", file=sys.stderr)
            continue
        diff = difflib.unified_diff(
            old[name].decode(errors="replace").splitlines(),
            new[name].decode(errors="replace").splitlines(),
            f"committed/{name}", f"generated/{name}", lineterm="", n=1,
        )
        for line in diff:
            if shown >= 60:
                break
            print(line[:200], file=sys.stderr)
            shown += 1
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail with a diff if the tree is stale")
    args = parser.parse_args(argv)
    check_tool_versions()
    with tempfile.TemporaryDirectory(prefix="clarifai-gen-") as tmp:
        fresh = build_tree(Path(tmp))
        if args.check:
            return check(fresh)
        # Copy next to the old tree, then swap by renames: an interruption never leaves no tree.
        staged = GENERATED_DIR.with_name(GENERATED_DIR.name + ".new")
        retired = GENERATED_DIR.with_name(GENERATED_DIR.name + ".old")
        for leftover in (staged, retired):
            if leftover.exists():
                shutil.rmtree(leftover)
        shutil.copytree(fresh, staged)
        if GENERATED_DIR.exists():
            GENERATED_DIR.rename(retired)
        staged.rename(GENERATED_DIR)
        if retired.exists():
            shutil.rmtree(retired)
    print(f"gen_protos: wrote {GENERATED_DIR.relative_to(ROOT)} ({len(snapshot(GENERATED_DIR))} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

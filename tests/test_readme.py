"""Every ```python block of README.md runs as written, each in a fresh interpreter.

A block that cannot run offline is skipped only with a stated reason: either a marker line
``<!-- readme-test: skip: <reason> -->`` right above its fence, or its section listed in
NOT_RUNNABLE below.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMEOUT = 60

# Sections whose blocks talk to the real API (api.clarifai.com, a real PAT) or are fragments that
# continue another block. Prefer the in-README marker for new cases.
NOT_RUNNABLE: dict[str, str] = {}
REQUIRED_SECTIONS = ("asyncio", "Streaming")

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_SKIP = re.compile(r"<!--\s*readme-test:\s*skip:\s*(.+?)\s*-->\s*\n\s*\Z")


@dataclass(frozen=True)
class Block:
    section: str
    line: int
    code: str
    skip_reason: str

    @property
    def id(self) -> str:
        return f"{self.section or 'top'}@L{self.line}"


def _blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        headings = re.findall(r"^## (.+?)\s*$", before, re.M)
        section = headings[-1] if headings else ""
        marker = _SKIP.search(before)
        reason = marker.group(1) if marker else NOT_RUNNABLE.get(section, "")
        blocks.append(Block(section, before.count("\n") + 2, match.group(1), reason))
    return blocks


BLOCKS = _blocks()


def test_the_asyncio_and_streaming_sections_have_a_runnable_block() -> None:
    for section in REQUIRED_SECTIONS:
        runnable = [b for b in BLOCKS if b.section == section and not b.skip_reason]
        assert len(runnable) == 1, f"README.md section '## {section}' should hold one ```python block"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs(block: Block) -> None:
    if block.skip_reason:
        pytest.skip(f"README.md line {block.line} ({block.section}): {block.skip_reason}")
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", block.code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, (
        f"README.md block at line {block.line} ({block.section}) failed:\n{done.stdout}\n{done.stderr}"
    )

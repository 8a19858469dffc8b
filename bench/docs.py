"""The benchmarks' figures in docs/benchmarks.md: each block between its markers,
``<!-- NAME:PART -->`` and ``<!-- /NAME:PART -->``, is replaced on every run, or added at the end
the first time; whatever stands outside the markers (notes written by hand) is kept."""

from __future__ import annotations

import re

from bench.calls_list import DOCS, ROOT, echo


def marked(name: str, part: str, text: str) -> str:
    return f"<!-- {name}:{part} -->\n{text}<!-- /{name}:{part} -->\n"


def write_blocks(name: str, blocks: dict[str, str]) -> None:
    """Put each part's block (markers included) in place."""
    text = DOCS.read_text() if DOCS.exists() else ""
    for part, block in blocks.items():
        pattern = re.compile(rf"<!-- {name}:{part} -->.*?<!-- /{name}:{part} -->\n", re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
        else:
            text = text.rstrip("\n") + "\n\n" + block
    DOCS.write_text(text)


def publish(name: str, header: str, figures: str) -> None:
    """A benchmark's two blocks, its header (what it measures, its target) and its figures
    (already marked), put in place; and say so."""
    write_blocks(name, {"header": marked(name, "header", header), "figures": figures})
    echo(f"wrote {DOCS.relative_to(ROOT)}")

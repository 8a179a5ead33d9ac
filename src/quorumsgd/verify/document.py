r"""The report as a list of blocks, rendered once to Markdown (``report.md``) and once to HTML (``report.html``).

A section of the report (:data:`quorumsgd.verify.report.SECTIONS`) returns blocks, never text, so every
section appears in both formats with the same numbers. Inline text may use three marks: ```code```,
``**bold**`` and ``$LaTeX$`` (KaTeX in the HTML page, GitHub's math in the Markdown).

Example:
    >>> print(to_markdown([Heading("Sandwich"), Table(["a", "b"], [["1", "x | y"]])]))
    ## Sandwich
    <BLANKLINE>
    | a | b |
    |---|---|
    | 1 | x \| y |
    <BLANKLINE>
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    """A heading (level 1: the report's title)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline text."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of inline-text cells; ``numeric`` names the columns aligned right."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: Sequence[int] = ()


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of inline-text items."""

    items: Sequence[str]


@dataclass(frozen=True)
class Image:
    """A plot: a PNG file of the report folder (linked in Markdown, inlined as base64 in HTML)."""

    alt: str
    file: str


@dataclass(frozen=True)
class Markdown:
    """Markdown written by another module (e.g. :func:`quorumsgd.bounds.sdp.table.markdown`), kept as it is."""

    text: str


Block = Heading | Paragraph | Table | Bullets | Image | Markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe inside a cell (|x - x*|) would split it


def to_markdown(blocks: Sequence[Block]) -> str:
    """The blocks as GitHub-flavoured Markdown, one blank line between blocks."""
    parts: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append("#" * b.level + " " + b.text)
        elif isinstance(b, Paragraph):
            parts.append(b.text)
        elif isinstance(b, Table):
            align = ["---:" if i in b.numeric else "---" for i in range(len(b.header))]
            lines = ["| " + " | ".join(_cell(h) for h in b.header) + " |", "|" + "|".join(align) + "|"]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in b.rows]
            parts.append("\n".join(lines))
        elif isinstance(b, Bullets):
            parts.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Image):
            parts.append(f"![{b.alt}]({b.file})")
        else:
            parts.append(b.text.strip("\n"))
    return "\n\n".join(parts) + "\n"


_INLINE = re.compile(r"(`[^`]*`|\$[^$]+\$)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline_html(text: str) -> str:
    r"""Inline text as HTML: code spans, bold, and ``$...$`` left for KaTeX (escaped, never interpreted).

    Example:
        >>> inline_html(r"**found** `x<1` at $\lambda$ & more")
        '<strong>found</strong> <code>x&lt;1</code> at $\\lambda$ &amp; more'
    """
    out = []
    for i, part in enumerate(_INLINE.split(text)):
        if i % 2 == 0:
            out.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(part, quote=False)))
        elif part.startswith("`"):
            out.append(f"<code>{html.escape(part[1:-1], quote=False)}</code>")
        else:
            out.append(html.escape(part, quote=False))
    return "".join(out)

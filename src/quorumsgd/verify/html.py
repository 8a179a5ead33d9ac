"""``report.html``: the verification report in the proof site's style, readable offline from ``file://``.

The page shows the same blocks as ``report.md`` (:mod:`quorumsgd.verify.document`). It links the proof site's
stylesheet and its bundled KaTeX, copied into ``OUT/_static/`` (:data:`quorumsgd.proofsite.site.STATIC`), so
the math renders without a network; the plots are inlined as base64 PNG, so the page needs no other file of
the folder. Nothing is fetched from the network.

Example:
    >>> import tempfile, pathlib
    >>> from quorumsgd.verify.document import Heading, Paragraph
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> page = write_html(out, [Heading("Report", 1), Paragraph("$x^2$ and `code`")], title="Report")
    >>> "<code>code</code>" in page.read_text(), (out / "_static" / "site.css").is_file()
    (True, True)
"""

from __future__ import annotations

import base64
import html
import shutil
from collections.abc import Sequence
from pathlib import Path

from quorumsgd.verify.document import Block, Bullets, Heading, Image, Paragraph, Table, inline_html

STATIC_URL = "_static"
_NUM = ' class="num"'

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="{static}/katex/katex.min.css">
<link rel="stylesheet" href="{static}/site.css">
<script defer src="{static}/katex/katex.min.js"></script>
<script defer src="{static}/katex/contrib/auto-render.min.js"></script>
<script defer src="{static}/render-math.js"></script>
</head>
<body class="proof-index verify-report">
<main>
{body}
<p class="proof-meta">Written by <code>quorumsgd verify</code>; the same report as <code>report.md</code>, numbers in
<code>report.json</code>. Math is rendered by a bundled copy of KaTeX (no network access needed).</p>
</main>
</body>
</html>
"""


def _markdown_html(text: str) -> str:
    import mistune  # nbconvert's Markdown parser (a dependency of the proof site)

    return str(mistune.create_markdown(plugins=["table"])(text))


def _image(out: Path, block: Image) -> str:
    path = out / block.file
    if not path.is_file():  # a plot that was not written (an interrupted claim): say so instead of a broken image
        return f'<p class="proof-meta">plot {html.escape(block.alt)}: {html.escape(block.file)} is missing</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(block.alt, quote=True)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{html.escape(block.alt)}</figcaption></figure>")


def block_html(out: Path, block: Block) -> str:
    """One block as HTML (images read from ``out`` and inlined)."""
    if isinstance(block, Heading):
        return f"<h{block.level}>{inline_html(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{inline_html(block.text)}</p>"
    if isinstance(block, Table):
        def cells(row: Sequence[str], tag: str) -> str:
            return "".join(f"<{tag}{_NUM if i in block.numeric else ''}>{inline_html(c)}</{tag}>"
                           for i, c in enumerate(row))

        body = "\n".join(f"<tr>{cells(row, 'td')}</tr>" for row in block.rows)
        return (f'<div class="report-table"><table class="proof-table">\n<thead><tr>{cells(block.header, "th")}</tr>'
                f"</thead>\n<tbody>\n{body}\n</tbody></table></div>")
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{inline_html(item)}</li>" for item in block.items) + "\n</ul>"
    if isinstance(block, Image):
        return _image(out, block)
    table_html = _markdown_html(block.text).replace("<table>", '<table class="proof-table">')
    return f'<div class="report-table">{table_html}</div>'


def copy_static(out: Path) -> Path:
    """The proof site's stylesheet and KaTeX, copied to ``out/_static`` (replacing an older copy)."""
    from quorumsgd.proofsite.site import STATIC

    static = out / STATIC_URL
    shutil.rmtree(static, ignore_errors=True)
    shutil.copytree(STATIC, static, ignore=shutil.ignore_patterns("README.md"))
    return static


def write_html(out: Path, blocks: Sequence[Block], title: str) -> Path:
    """Write ``out/report.html`` (and ``out/_static``) from the report's blocks; return the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copy_static(out)
    body = "\n".join(block_html(out, b) for b in blocks)
    page = out / "report.html"
    page.write_text(_PAGE.format(title=html.escape(title), static=STATIC_URL, body=body), encoding="utf-8")
    return page

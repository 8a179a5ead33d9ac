"""Render Sphinx's math with the KaTeX copy of the proof site: offline, no MathJax CDN.

Math nodes are written as ``\\( ... \\)`` and ``\\[ ... \\]`` (the proof site's ``render-math.js`` typesets every
such delimiter with KaTeX's auto-render); the KaTeX files are copied into the build's ``_static/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from docutils import nodes


def _inline(self: Any, node: nodes.Element) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(self.encode(rf"\({node.astext()}\)") + "</span>")
    raise nodes.SkipNode


def _block(self: Any, node: nodes.Element) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    self.body.append("".join(self.encode(rf"\[{p}\]") for p in parts) + "</div>\n")
    raise nodes.SkipNode


def _copy_katex(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    source = Path(app.config.katex_static)
    shutil.copytree(source / "katex", static / "katex", dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    shutil.copy2(source / "render-math.js", static / "render-math.js")


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("katex_static", "", "html")
    app.add_html_math_renderer("katex", inline_renderers=(_inline, None), block_renderers=(_block, None))
    app.config.html_math_renderer = "katex"
    app.add_css_file("katex/katex.min.css")
    for js in ("katex/katex.min.js", "katex/contrib/auto-render.min.js", "render-math.js"):
        app.add_js_file(js, loading_method="defer")
    app.connect("build-finished", _copy_katex)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Render the proof site: executed notebooks -> nbconvert HTML pages, an index, and the bundled KaTeX.

Layout of the output folder::

    index.html              every result, its statement, its checks and timings
    <stem>.html             one page per result (nbconvert's lab page, local resources only)
    notebooks/<stem>.ipynb  the executed notebooks
    manifest.json           per notebook: status, checked steps, the numbers it recorded, timings
    _static/                KaTeX (vendored, MIT), render-math.js, site.css
    api/                    the API reference (Sphinx, from the docstrings: :mod:`quorumsgd.docs`), linked
                            from the index when Sphinx and the ``docs/`` sources are available

Every page references only files of this folder, so the site works offline, from ``file://`` or any server.
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quorumsgd.errors import QuorumSGDError
from quorumsgd.proofsite.execute import Execution, execute_all
from quorumsgd.proofsite.registry import NOTEBOOKS, ProofNotebook, find, notebook_dir

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES = PACKAGE_DIR / "templates"
STATIC = PACKAGE_DIR / "static"
STATIC_URL = "_static"
API_DIR = "api"


class ProofsFailed(QuorumSGDError):
    """At least one notebook failed; the message is one line naming each notebook and its failed step."""

    def __init__(self, failures: Sequence[Execution]):
        self.failures = list(failures)
        super().__init__("proofs: " + "; ".join(f.error or f.notebook.name for f in failures))


@dataclass
class Site:
    """A rendered site: where it is and what each notebook gave."""

    out: Path
    executions: list[Execution] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    @property
    def failures(self) -> list[Execution]:
        return [e for e in self.executions if not e.ok]


def select(only: Sequence[str] | None) -> list[ProofNotebook]:
    """The notebooks to render: all, or those named (design names or stems), in the paper's order."""
    if not only:
        return list(NOTEBOOKS)
    wanted = {find(name).name for name in only}
    return [nb for nb in NOTEBOOKS if nb.name in wanted]


def statement_latex(notebook: ProofNotebook) -> str:
    """The result's statement in LaTeX (from :mod:`quorumsgd.bounds.registry` for the paper's results)."""
    return notebook.statement


def _label(notebook: ProofNotebook) -> str:
    return notebook.label


def _exporter() -> Any:
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="proof", extra_template_basedirs=[str(TEMPLATES)])


def _page(exporter: Any, execution: Execution, previous: ProofNotebook | None, following: ProofNotebook | None) -> str:
    nb = execution.notebook
    status = (f"✓ {execution.summary['checks']} checked steps" if execution.ok and execution.summary
              else f"✗ {execution.error}")

    def link(other: ProofNotebook | None) -> dict[str, str] | None:
        return None if other is None else {"href": f"{other.stem}.html", "label": _label(other)}

    resources = {
        "metadata": {"name": f"{_label(nb)} — {nb.title}"},
        "static_url": STATIC_URL,
        "previous": link(previous),
        "next": link(following),
        "ipynb_href": f"notebooks/{nb.stem}.ipynb",
        "proof_ok": execution.ok,
        "proof_status": status,
    }
    body, _ = exporter.from_notebook_node(execution.nb, resources=resources)
    return body


def _api_docs(out: Path) -> tuple[str | None, str | None]:
    """Build the API reference into ``out/api``: ``(href, None)``, or ``(None, why not)`` (one line)."""
    from quorumsgd import docs

    try:
        docs.build(out / API_DIR)
    except QuorumSGDError as err:
        return None, str(err)
    return f"{API_DIR}/index.html", None


def _index(site: Site, quick: bool, elapsed: float, api: tuple[str | None, str | None] = (None, None)) -> str:
    import jinja2

    from quorumsgd import __version__ as version

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    rows = []
    for ex in site.executions:
        nb = ex.notebook
        rows.append({
            "href": f"{nb.stem}.html", "label": _label(nb), "title": nb.title, "section": nb.section,
            "statement": f"${statement_latex(nb)}$", "ok": ex.ok, "checks": (ex.summary or {}).get("checks", 0),
            "error": ex.error, "elapsed": ex.elapsed_s,
        })
    return env.get_template("site_index.html.j2").render(
        rows=rows, mode="quick" if quick else "full", passed=sum(r["ok"] for r in rows), total=len(rows),
        checks=sum(r["checks"] for r in rows), elapsed=elapsed, version=version,
        date=datetime.date.today().isoformat(), api_href=api[0], api_note=api[1],
    )


def _manifest(site: Site, quick: bool) -> dict[str, Any]:
    return {
        "mode": "quick" if quick else "full",
        "notebooks": [
            {"name": ex.notebook.name, "page": f"{ex.notebook.stem}.html", "ok": ex.ok, "error": ex.error,
             "step": ex.step, "elapsed_s": ex.elapsed_s, "summary": ex.summary}
            for ex in site.executions
        ],
    }


def render_site(out: Path, *, only: Sequence[str] | None = None, quick: bool = False, jobs: int = 1,
                notebooks: Path | None = None, timeout: float = 900.0,
                on_start: Callable[[ProofNotebook], None] | None = None,
                on_done: Callable[[Execution], None] | None = None, strict: bool = True,
                api_docs: bool | None = None) -> Site:
    """Execute the notebooks and write the site into ``out``.

    Every notebook is executed and rendered (a failed one shows its error on its page); with ``strict``
    (the default) a failure then raises :class:`ProofsFailed`, one line naming each failed notebook and step.
    With ``api_docs`` (default: for the whole site, not for ``only`` some notebooks) the API reference is built
    into ``out/api`` and linked from the index, where Sphinx and the ``docs/`` sources are available (otherwise
    the index says why not).
    """
    import time

    chosen = select(only)
    source = notebook_dir(notebooks)
    out = Path(out)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    work.mkdir(exist_ok=True)
    start = time.perf_counter()
    items = [(nb, source / nb.filename) for nb in chosen]
    missing = [str(path) for _, path in items if not path.is_file()]
    if missing:
        raise QuorumSGDError(f"proofs: notebook file(s) not found: {', '.join(missing)}")
    site = Site(out, execute_all(items, quick=quick, workdir=work, jobs=jobs, timeout=timeout, on_start=on_start,
                                 on_done=on_done))
    shutil.rmtree(work, ignore_errors=True)

    import nbformat

    exporter = _exporter()
    for i, ex in enumerate(site.executions):
        nb = ex.notebook
        nbformat.write(ex.nb, out / "notebooks" / f"{nb.stem}.ipynb")
        previous = chosen[i - 1] if i > 0 else None
        following = chosen[i + 1] if i + 1 < len(chosen) else None
        (out / f"{nb.stem}.html").write_text(_page(exporter, ex, previous, following), encoding="utf-8")
    static = out / STATIC_URL
    shutil.rmtree(static, ignore_errors=True)
    shutil.copytree(STATIC, static, ignore=shutil.ignore_patterns("README.md"))
    api = _api_docs(out) if (not only if api_docs is None else api_docs) else (None, None)
    (out / "index.html").write_text(_index(site, quick, time.perf_counter() - start, api), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(_manifest(site, quick), indent=1), encoding="utf-8")
    if strict and site.failures:
        raise ProofsFailed(site.failures)
    return site

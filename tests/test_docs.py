"""The API reference: built offline by Sphinx from the docstrings with warnings as errors, linked from the proof site.

Built once per session (``-W``: any docstring problem Sphinx reports fails the test), then read: one page per
public module, the registry's generated theorem docstrings on the bounds page, math typeset by the bundled
KaTeX (in headless Chromium where it is installed), and the proof site's index linking it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="sphinx (the [test] extra) builds the API reference")

from quorumsgd import docs
from quorumsgd.bounds.registry import REGISTRY
from quorumsgd.errors import QuorumSGDError

# Sphinx's own deprecations (napoleon on Sphinx 9), not ours
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]

MODULES = ("bounds", "algorithms", "simulate", "objectives", "contraction", "verify", "hunt", "training")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("api-docs") / "api"
    index = docs.build(out, strict=True)  # -W --keep-going: a warning raises, naming the first problem
    assert index == out / "index.html" and index.is_file()
    return out


def test_every_public_module_has_its_page(api: Path) -> None:
    index = (api / "index.html").read_text(encoding="utf-8")
    for name in MODULES:
        page = api / "api" / f"{name}.html"
        assert page.is_file(), name
        assert f'href="api/{name}.html"' in index
        assert f'id="module-quorumsgd.{name}"' in page.read_text(encoding="utf-8"), name


def test_bounds_page_has_the_registry_docstrings(api: Path) -> None:
    page = (api / "api" / "bounds.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    for name in ("thm5.1", "thm5.2", "thm5.3", "lemma3.1", "lemma5.5"):
        entry, function = REGISTRY[name], name.replace(".", "_")
        assert f'id="quorumsgd.bounds.{function}"' in page, name
        # the generated first line: title, equation and the statement in LaTeX, as math for KaTeX
        assert f"{entry.title}, {entry.equation} ({entry.section}):" in text, name
        assert f"\\({entry.statement}\\)" in text.replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")
    assert "Parameters:" in text and "number of agents" in text  # napoleon turned Args: into a parameter list
    assert "ArrayLike" in text and "_SupportsArray" not in text  # numpy's alias, not its expansion


def test_pages_are_offline(api: Path) -> None:
    resource = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*?\b(?:src|href)="([^"]+)"', re.IGNORECASE)
    for page in api.rglob("*.html"):
        for ref in resource.findall(page.read_text(encoding="utf-8")):
            assert "://" not in ref and not ref.startswith("//"), f"{page.name} loads {ref}"
            if ref.startswith("#"):
                continue  # a link within the page
            assert (page.parent / ref.split("?")[0].split("#")[0]).is_file(), f"{page.name}: missing {ref}"
    assert (api / "_static" / "katex" / "katex.min.js").is_file()


def test_missing_sources_or_sphinx_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert docs.main(["--out", str(tmp_path / "o"), "--source", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: docs: no Sphinx sources at") and "Traceback" not in err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sphinx" else real(name, *a))
    assert docs.main(["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sphinx is not installed (pip install sphinx" in err


def test_a_docstring_problem_fails_the_strict_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "broken_docstring.py").write_text('def f():\n    """The bound on |d is unterminated."""\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon']\n")
    (tmp_path / "docs" / "index.rst").write_text("T\n=\n\n.. automodule:: broken_docstring\n   :members:\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    docs.build(tmp_path / "lenient", source=tmp_path / "docs")  # a warning only
    with pytest.raises(QuorumSGDError, match=r"docs: the Sphinx build failed \(1 problem\(s\)\); first: .*broken_docstring"
                       ) as info:
        docs.build(tmp_path / "strict", source=tmp_path / "docs", strict=True)
    assert "\n" not in str(info.value)


def test_proof_site_index_links_the_api_reference(api: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nbclient", reason="the proof site's notebook runner")
    from quorumsgd.proofsite.site import render_site

    built: list[Path] = []

    def copy_built(out: Path, **_: object) -> Path:  # the strict build above, not a second one
        shutil.copytree(api, out)
        built.append(out)
        return out / "index.html"

    monkeypatch.setattr(docs, "build", copy_built)
    site = tmp_path / "site"
    render_site(site, only=["lemma2.1"], quick=True, strict=False, api_docs=True)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert built == [site / "api"] and 'href="api/index.html"' in index
    assert (site / "api" / "index.html").is_file() and (site / "api" / "api" / "bounds.html").is_file()
    # without Sphinx the index says why, in one line, and links nothing
    monkeypatch.setattr(docs, "build", lambda out, **_: (_ for _ in ()).throw(docs.DocsUnavailable("docs: no sphinx")))
    render_site(tmp_path / "bare", only=["lemma2.1"], quick=True, strict=False, api_docs=True)
    bare = (tmp_path / "bare" / "index.html").read_text(encoding="utf-8")
    assert "api/index.html" not in bare and "API reference not built: docs: no sphinx" in bare


def test_browser_typesets_the_math_of_the_bounds_page(api: Path, tmp_path: Path) -> None:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("headless Chromium and chromedriver are not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        chrome.get((api / "api" / "bounds.html").as_uri())
        WebDriverWait(chrome, 30).until(
            lambda d: d.execute_script("return document.body.getAttribute('data-math-rendered')") == "true")
        state = chrome.execute_script(
            "return {katex: document.querySelectorAll('.katex').length,"
            " errors: document.querySelectorAll('.katex-error').length,"
            " raw: Array.from(document.querySelectorAll('span.math')).filter(s => !s.querySelector('.katex')).length}")
    finally:
        chrome.quit()
    assert state["katex"] >= 50 and state["errors"] == 0 and state["raw"] == 0, state

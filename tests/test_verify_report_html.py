"""``report.html``: the verification report in the proof site's style, offline, plots inline, read in a browser.

The report is written once from fixed check numbers (the page is under test, not the simulations), with real
sweep plots, the real sandwich at each default problem, a small real SDP table and a claim.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest

from quorumsgd.verify.checks import CHECKS
from quorumsgd.verify.report import headline, sandwiches_of, write_report
from test_verify_report_table import fake_check, sweeps  # tests/ is on sys.path under pytest


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from quorumsgd.bounds.sdp import table
    from quorumsgd.verify.claims import CLAIMS

    out = tmp_path_factory.mktemp("verify-report")
    checks = [fake_check(n) for n in CHECKS]
    sw = sweeps()
    claim = CLAIMS["C5"](out, None)
    sdp = table.cached_sandwich(names=("thm5.1",), n_agents=(1, 4), couplings=(1.0,), dims=(1,))
    write_report(out, checks + [r for s in sw for r in s.results], [claim], sw, sandwiches=sandwiches_of(checks),
                 sdp_table=sdp)
    return out


_RESOURCE = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*?\b(?:src|href)="([^"]+)"', re.IGNORECASE)


def test_page_is_offline_with_plots_inline(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    refs = _RESOURCE.findall(page)
    images = [r for r in refs if r.startswith("data:")]
    assert len(images) == 2  # thm5.1 vs n_agents, lemma3.1 vs coupling: inline, not files of the folder
    for ref in images:
        assert ref.startswith("data:image/png;base64,")
        assert base64.b64decode(ref.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for ref in (r for r in refs if not r.startswith("data:")):
        assert "://" not in ref and not ref.startswith("//"), f"remote resource: {ref}"
        assert ref.startswith("_static/") and (report / ref).is_file(), f"missing local file {ref}"
    assert "_static/site.css" in refs and "_static/katex/katex.min.js" in refs  # the proof site's style and math
    assert 'class="proof-index verify-report"' in page


def test_page_shows_what_report_md_shows(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    md = (report / "report.md").read_text()
    # every heading of report.md, in the same order
    md_headings = [line.lstrip("#").strip() for line in md.splitlines() if line.startswith("#")]
    html_headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[12]>(.*?)</h[12]>", page)]
    assert html_headings == md_headings
    assert html_headings[1].startswith("Headline")
    # the headline's numbers, a sweep row's label, the SDP table (Markdown from bounds.sdp.table) as a table
    rows = {h["check"]: h for h in headline(sandwiches_of([fake_check(n) for n in CHECKS]))}
    for name in ("thm5.1", "thm5.2", "thm5.3"):
        h = rows[name]
        assert re.search(rf"<td>{re.escape(name)}</td><td>[^<]*</td><td class=\"num\">{h['worst_found']:.4g}</td>"
                         rf"<td>[^<]*</td><td class=\"num\">{h['sdp']:.4g}</td><td class=\"num\">{h['paper']:.4g}</td>",
                         page), name
    assert "<td>thm5.1 p=32</td>" in page and "<td>E |x_bar - x*|</td>" in page
    assert page.count('<table class="proof-table">') == md.count("\n|---") + md.count("\n|---:")


# --- the browser: math rendered, plots decoded ------------------------------------------------------------------


def _chromium() -> tuple[str, str]:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("headless Chromium and chromedriver are not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed")
    return browser, driver


_PAGE_STATE = """
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let raw = 0;
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (n.parentElement.closest('pre, code, script, style, .katex')) continue;
  if (n.nodeValue.includes('$$') || /\\$[^$\\s][^$]*\\$/.test(n.nodeValue)) raw += 1;
}
const imgs = Array.from(document.images);
const css = getComputedStyle(document.querySelector('main'));
return {
  rendered: document.body.getAttribute('data-math-rendered'),
  katex: document.querySelectorAll('.katex').length,
  errors: document.querySelectorAll('.katex-error').length,
  raw: raw,
  images: imgs.length,
  loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  fontsLoaded: Array.from(document.fonts).filter(f => f.status === 'loaded' && f.family.includes('KaTeX')).length,
  maxWidth: css.maxWidth,
  tables: document.querySelectorAll('table.proof-table').length,
};
"""


def test_browser_renders_the_report(report: Path, tmp_path: Path) -> None:
    browser, driver = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        chrome.get((report / "report.html").as_uri())
        WebDriverWait(chrome, 30).until(
            lambda d: d.execute_script("return document.body.getAttribute('data-math-rendered')") == "true")
        WebDriverWait(chrome, 30).until(lambda d: d.execute_script("return document.fonts.status") == "loaded")
        state = chrome.execute_script(_PAGE_STATE)
    finally:
        chrome.quit()
    # the headline's inequality and one statement per theorem, all typeset, none left as raw $...$
    assert state["katex"] >= 1 + 7 and state["errors"] == 0 and state["raw"] == 0, state
    assert state["fontsLoaded"] > 0, state
    assert state["images"] == 2 and state["loaded"] == 2, state
    assert state["maxWidth"] == "1100px", state  # the proof site's stylesheet applies
    assert state["tables"] >= 5, state

"""The proof notebooks execute in quick mode, their outputs are right by value, and the site is offline.

The site is rendered once per test session (shared between xdist workers through a file lock) and every test
reads it: executed notebooks, ``manifest.json`` (each notebook's recorded numbers) and the HTML pages. Numbers
are compared by value with the package's own evaluators, never as LaTeX strings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("nbclient", reason="the proofs extra (jupytext, nbclient, nbconvert, ipykernel) is required")

from quorumsgd import bounds
from quorumsgd.proofsite.registry import NOTEBOOKS, notebook_dir
from quorumsgd.proofsite.site import render_site
from quorumsgd.verify.checks import default_problem


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick-mode site, rendered once for all xdist workers (file lock on the shared temp root)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    out = root / "proofs-site-quick"
    with FileLock(str(out) + ".lock"):
        if not (out / "manifest.json").is_file():
            render_site(out, quick=True, jobs=2, strict=False)
    return out


def _manifest(site: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((site / "manifest.json").read_text())
    assert data["mode"] == "quick"
    return {nb["name"]: nb for nb in data["notebooks"]}


def _values(site: Path, name: str) -> dict[str, Any]:
    return _manifest(site)[name]["summary"]["values"]


# --- every notebook executes -------------------------------------------------------------------------------


def test_every_notebook_executes_in_quick_mode(site: Path) -> None:
    manifest = _manifest(site)
    assert list(manifest) == [nb.name for nb in NOTEBOOKS]
    for name, entry in manifest.items():
        assert entry["ok"], entry["error"]
        summary = entry["summary"]
        assert summary["name"] == name and summary["quick"] is True
        assert summary["failed"] == [] and summary["checks"] >= 5, name
        assert all(step["ok"] for step in summary["steps"])
        assert (site / f"{entry['page']}").is_file()
        assert (site / "notebooks" / f"{name.replace('.', '_')}.ipynb").is_file()


def test_notebook_files_are_jupytext_percent_text() -> None:
    folder = notebook_dir()
    for nb in NOTEBOOKS:
        text = (folder / nb.filename).read_text()
        assert "format_name: percent" in text and text.count("# %%") >= 6, nb.name
        assert "proof.summary(" in text and f'Proof("{nb.name}")' in text, nb.name


# --- outputs by value ------------------------------------------------------------------------------------------


def test_thm5_1_numbers(site: Path) -> None:
    values = _values(site, "thm5.1")
    assert values["bound_at_default_problem"] == pytest.approx(bounds.thm5_1(**values["params"]).value, rel=1e-12)
    base = default_problem("thm5.1")
    for field in ("n_agents", "coupling"):
        sweep = values[f"sweep:{field}"]
        for x, bound in zip(sweep["values"], sweep["bound"], strict=True):
            problem = base.replace(**{field: int(x) if field == "n_agents" else float(x)})
            expected = bounds.thm5_1(n_agents=problem.spec.n_agents, lr=problem.mean_lr,
                                     batch_size=problem.spec.batch_size, sigma2=problem.sigma2, dim=problem.dim,
                                     q=problem.q, strong_convexity=problem.strong_convexity,
                                     coupling=problem.spec.coupling).value
            assert bound == pytest.approx(expected, rel=1e-12)
        assert all(m <= b for m, b in zip(sweep["measured"], sweep["bound"], strict=True))
        assert "violated" not in sweep["verdicts"]


@pytest.mark.parametrize("name", ["lemma3.1", "thm3.2", "sgd", "thm5.2", "thm5.3", "lemma5.5"])
def test_measured_sweeps_stay_below_their_bounds(site: Path, name: str) -> None:
    values = _values(site, name)
    sweeps = [v for k, v in values.items() if k.startswith("sweep:")]
    assert len(sweeps) == 2
    for sweep in sweeps:
        assert sweep["direction"] == "upper" and "violated" not in sweep["verdicts"]
        assert np.all(np.asarray(sweep["upper_confidence"]) <= np.asarray(sweep["bound"]) * (1 + 1e-12)), name


def test_lemma5_4_rates_are_lower_bounds(site: Path) -> None:
    for field in ("n_agents", "coupling"):
        sweep = _values(site, "lemma5.4")[f"sweep:{field}"]
        assert sweep["direction"] == "lower"
        assert np.all(np.asarray(sweep["measured"]) >= np.asarray(sweep["bound"]))


def test_thm5_2_lmi_metric_bound_is_below_the_papers(site: Path) -> None:
    values = _values(site, "thm5.2")
    for field in ("n_agents", "coupling"):
        lmi, paper = np.asarray(values["lmi_bounds"][field]), np.asarray(values[f"sweep:{field}"]["bound"])
        assert np.all(lmi <= paper + 1e-9) and np.all(lmi > 0)


def test_contraction_tables_by_value(site: Path) -> None:
    for row in _values(site, "lemma5.2")["by_n_agents"]:
        params = row["params"]
        expected = bounds.lemma5_2(strong_convexity=params["strong_convexity"], coupling=params["coupling"],
                                   n_agents=params["n_agents"]).value
        assert row["paper_rate"] == pytest.approx(expected, rel=1e-10)
        assert row["lmi_rate"] >= row["paper_rate"] - row["tolerance"] - 1e-7
        assert row["paper_chi"] == pytest.approx(np.sqrt(params["n_agents"]), rel=1e-9)
    for row in _values(site, "lemma5.3")["by_damping"]:
        params = row["params"]
        expected = bounds.lemma5_3(strong_convexity=params["strong_convexity"], smoothness=params["smoothness"],
                                   damping=params["damping"], coupling=10.0).value
        assert row["paper_rate"] == pytest.approx(expected, rel=1e-8)
        assert row["lmi_rate"] >= row["paper_metric_rate"] - 1e-7
    for row in _values(site, "lemma3.2")["by_coupling"]:
        assert row["verified"] and row["lmi_rate"] >= row["paper_metric_rate"] - 1e-7


def test_exact_oracles_meet_the_stochastic_contraction_bounds(site: Path) -> None:
    for name, factor in (("thm2.1", 1.0), ("cor2.1", 0.5)):
        values = _values(site, name)
        assert np.all(np.asarray(values["transient"]["exact"]) <= np.asarray(values["transient"]["bound"]))
        steady = values["steady"]
        # isotropic quadratic, C = eta sigma^2 = 0.1: the bound C/lambda (Thm 2.1) or C/(2 lambda) is attained
        expected = factor * 0.1 / np.asarray(steady["curvature"])
        assert np.allclose(steady["bound"], expected, rtol=1e-12)
        assert np.allclose(steady["exact"], expected, rtol=1e-8)


def test_lemma2_1_and_stability_numbers(site: Path) -> None:
    for row in _values(site, "lemma2.1")["by_n_agents"]:
        assert row["exact"] <= row["lmi"] + 1e-7 and row["exact"] <= row["paper"] + 1e-9
    region = _values(site, "stability")["max_stable_coupling"]
    expected = [bounds.max_stable_coupling(lr=0.1, curvature=1.0, n_agents=p, algorithm="easgd", upper=40.0)
                for p in region["n_agents"]]
    assert region["easgd"] == pytest.approx(expected)
    assert np.ptp(region["qsgd"]) <= 1e-3 * region["qsgd"][0] and region["easgd"][-1] < region["qsgd"][-1]


# --- the site is offline ------------------------------------------------------------------------------------------

_RESOURCE = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*?\b(?:src|href)="([^"]+)"', re.IGNORECASE)


def test_pages_reference_only_local_files(site: Path) -> None:
    pages = sorted(site.glob("*.html"))
    assert len(pages) == len(NOTEBOOKS) + 1
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for ref in _RESOURCE.findall(html):
            if ref.startswith("data:"):
                continue
            assert "://" not in ref and not ref.startswith("//"), f"{page.name} loads a remote resource: {ref}"
            assert (site / ref.split("?")[0].split("#")[0]).is_file(), f"{page.name}: missing local file {ref}"
    index = (site / "index.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f'href="{nb.stem}.html"' in index
    for css in (site / "_static").rglob("*.css"):
        for ref in re.findall(r"url\(([^)]+)\)", css.read_text()):
            assert (css.parent / ref.strip("'\"")).is_file(), f"{css.name} references a missing file {ref}"


# --- a failing step fails the run and is named ---------------------------------------------------------------

BROKEN = '''# %% [markdown]
# # A deliberately broken proof

# %%
import sympy

from quorumsgd.proofsite.kit import Proof

proof = Proof("lemma2.1")
x = sympy.Symbol("x", positive=True)
proof.same("a true identity", (x + 1) ** 2, x**2 + 2 * x + 1)
proof.same("(x + 1)^2 = x^2 + 1", (x + 1) ** 2, x**2 + 1)
proof.summary("unreachable")
'''


def test_a_failing_step_fails_the_run_and_is_named(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "lemma2_1.py").write_text(BROKEN)
    out = tmp_path / "site"
    cmd = [sys.executable, "-m", "quorumsgd.cli", "proofs", "render", "--out", str(out), "--only", "lemma2.1",
           "--quick", "--notebooks", str(notebooks)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "lemma2.1" in errors[0] and "proof step '(x + 1)^2 = x^2 + 1' failed" in errors[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notebooks"][0]["step"] == "(x + 1)^2 = x^2 + 1"
    assert (out / "lemma2_1.html").is_file()  # the failed notebook is rendered, its error shown


# --- the browser: math rendered, plots loaded -----------------------------------------------------------------


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
return {
  rendered: document.body.getAttribute('data-math-rendered'),
  katex: document.querySelectorAll('.katex').length,
  errors: document.querySelectorAll('.katex-error').length,
  raw: raw,
  images: imgs.length,
  loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  fontsLoaded: Array.from(document.fonts).filter(f => f.status === 'loaded' && f.family.includes('KaTeX')).length,
};
"""


def test_browser_renders_math_and_plots(site: Path, tmp_path: Path) -> None:
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
        states = {}
        for page in ("index.html", "thm5_1.html"):
            chrome.get((site / page).as_uri())
            WebDriverWait(chrome, 30).until(
                lambda d: d.execute_script("return document.body.getAttribute('data-math-rendered')") == "true")
            WebDriverWait(chrome, 30).until(lambda d: d.execute_script("return document.fonts.status") == "loaded")
            states[page] = chrome.execute_script(_PAGE_STATE)
    finally:
        chrome.quit()
    index, theorem = states["index.html"], states["thm5_1.html"]
    assert index["katex"] >= len(NOTEBOOKS) and index["errors"] == 0 and index["raw"] == 0, index
    assert theorem["katex"] >= 20 and theorem["errors"] == 0 and theorem["raw"] == 0, theorem
    assert theorem["fontsLoaded"] > 0, theorem
    assert theorem["images"] >= 1 and theorem["loaded"] == theorem["images"], theorem

"""Sphinx configuration of the quorumsgd API reference (built offline: ``python -m quorumsgd.docs --out DIR``).

Why Sphinx (rather than mkdocs + mkdocstrings): it is the scientific Python standard (NumPy, SciPy, SymPy,
cvxpy, PyTorch document their APIs with it), so readers know its layout and its cross-references; autodoc
imports the package and reads the docstrings exactly as ``help()`` shows them, which matters here because the
theorems' docstrings are *generated* at import time by the registry (:mod:`quorumsgd.bounds.registry`) and a
static source parser would miss them; napoleon reads the Google-style ``Args:`` / ``Returns:`` /
``Example:`` sections the code base uses; and ``-W`` turns every docstring problem into an error, which the
test (``tests/test_docs.py``) relies on.

Math is rendered offline by the KaTeX copy the proof site bundles (``_ext/katex_math.py``), never by a CDN.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import quorumsgd  # noqa: E402  (after the path set-up; the package itself must be importable)
from quorumsgd.proofsite.site import STATIC  # noqa: E402

project = "quorumsgd"
author = "quorumsgd contributors"
copyright = "2026, quorumsgd contributors"
release = version = quorumsgd.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "katex_math"]
katex_static = str(STATIC)  # the proof site's bundled KaTeX (MIT) and render-math.js

autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"  # the signatures stay readable; types go to the parameter list
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
# numpy's ArrayLike is a long Union: show its name, as the signatures in the code do
autodoc_type_aliases = {"ArrayLike": "numpy.typing.ArrayLike", "NDArray": "numpy.typing.NDArray"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

nitpicky = False  # annotations name numpy / torch / cvxpy types that have no inventory offline
suppress_warnings = ["ref.python"]  # "more than one target" for names re-exported by a package's __init__

html_theme = "alabaster"
html_title = "quorumsgd API reference"
html_theme_options = {"description": "Boffi & Slotine (2020), checked by a computer", "page_width": "1100px",
                      "sidebar_width": "230px"}
html_static_path: list[str] = []
html_show_sourcelink = False
templates_path: list[str] = []
exclude_patterns = ["_build"]

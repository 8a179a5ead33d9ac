"""The proof notebooks: one per result of the paper, in the paper's order, and where they live.

The notebooks are jupytext percent files (``.py`` with ``# %%`` cells). There is one copy, in ``proofs/`` at
the root of a source checkout; ``quorumsgd/proofsite/notebooks`` is a symbolic link to it, so that the same
files are found from an editable install, and are packaged (as package data) into a wheel.

Example:
    >>> find("thm5.1").stem, find("thm5_1").name
    ('thm5_1', 'thm5.1')
    >>> len(NOTEBOOKS)
    18
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quorumsgd.bounds.registry import ENTRIES
from quorumsgd.errors import InvalidParameter


@dataclass(frozen=True)
class ProofNotebook:
    """One proof notebook.

    Attributes:
        name: the result's design name (``thm5.1``), as in ``quorumsgd bound NAME``.
        title: the result's title.
        section: where it is in the paper.
        measured: the notebook compares a measurement with the bound (otherwise it plots the bound's structure).
        statement: the result in LaTeX.
        label: ``Theorem 5.1``, ``Lemma 3.2``, ``SDP certificate``...
    """

    name: str
    title: str
    section: str
    measured: bool
    statement: str = ""
    label: str = ""

    @property
    def stem(self) -> str:
        """File stem: ``thm5.1`` -> ``thm5_1``."""
        return self.name.replace(".", "_")

    @property
    def filename(self) -> str:
        return f"{self.stem}.py"


UNMEASURED = frozenset({"lemma3.2", "lemma5.2", "lemma5.3"})
"""Notebooks that plot a rate's structure against LMI certificates instead of measuring a bound."""

_SDP_STATEMENT = (
    r"\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi\le\min\Big\{\tfrac{\eta\sigma^2}{b}"
    r"\operatorname{tr}(\mathbf E^{\mathsf T}\mathbf P\mathbf E):\ \mathbf P\succeq0,\ \mu\ge0,\ "
    r"\mathbf M(\mathbf P,\mu)\preceq0\Big\}\quad\forall f\in\mathcal S(\lambda,L)"
)

NOTEBOOKS: tuple[ProofNotebook, ...] = (
    *(ProofNotebook(e.name, e.title, e.section, e.name not in UNMEASURED, e.statement, e.label) for e in ENTRIES),
    # Not a result of the paper: the toolkit's certificate over the whole class, beside (47), (51), (54).
    ProofNotebook("sdp", "Certified worst case over S(λ, L): SDP certificates",
                  "Sec. 5, (47), (51), (54); (41), (3), (42)-(43)", True, _SDP_STATEMENT, "SDP certificate"),
    ProofNotebook("bracket", "The worst case pinned: certificate vs an explicit member of S(λ, L)",
                  "Sec. 5, (47), (51), (54)", True,
                  r"\max_{f\in\text{found}}\mathbb E\|\bar{\mathbf x}\|^2\le\sup_{\mathcal S(\lambda,L)}"
                  r"\mathbb E\|\bar{\mathbf x}\|^2\le\text{certificate}", "Bracket"),
)
"""Every proof notebook: one per result of :mod:`quorumsgd.bounds.registry`, in the paper's order, then the SDP certificate."""


def find(name: str) -> ProofNotebook:
    """The notebook of a result, by design name (``thm5.1``) or file stem (``thm5_1``)."""
    for nb in NOTEBOOKS:
        if name in (nb.name, nb.stem, nb.filename):
            return nb
    raise InvalidParameter("--only", f"be one of {', '.join(nb.name for nb in NOTEBOOKS)}", name, "proofs")


def notebook_dir(override: Path | None = None) -> Path:
    """Where the notebooks are: ``override``, else the package's ``notebooks`` link (``proofs/`` of the checkout),
    else ``proofs/`` beside a ``pyproject.toml`` above this file."""
    if override is not None:
        path = Path(override)
        if not path.is_dir():
            raise InvalidParameter("--notebooks", "be an existing directory", str(path), "proofs")
        return path
    packaged = Path(__file__).resolve().parent / "notebooks"
    if _holds_notebooks(packaged):
        return packaged
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and _holds_notebooks(parent / "proofs"):
            return parent / "proofs"
    raise InvalidParameter(
        "--notebooks", "point at the proof notebooks (none found in the package or a source checkout)", "", "proofs"
    )


def _holds_notebooks(path: Path) -> bool:
    return path.is_dir() and any((path / nb.filename).is_file() for nb in NOTEBOOKS)

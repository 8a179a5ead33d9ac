"""The proof notebooks: one per result of the paper, in the paper's order, and where they live.

The notebooks are jupytext percent files (``.py`` with ``# %%`` cells). There is one copy, in ``proofs/`` at
the root of a source checkout; ``quorumsgd/proofsite/notebooks`` is a symbolic link to it, so that the same
files are found from an editable install, and are packaged (as package data) into a wheel.

Example:
    >>> find("thm5.1").stem, find("thm5_1").name
    ('thm5_1', 'thm5.1')
    >>> len(NOTEBOOKS)
    17
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quorumsgd.errors import InvalidParameter


@dataclass(frozen=True)
class ProofNotebook:
    """One proof notebook.

    Attributes:
        name: the result's design name (``thm5.1``), as in ``quorumsgd bound NAME``.
        title: the result's title.
        section: where it is in the paper.
        measured: the notebook compares a measurement with the bound (otherwise it plots the bound's structure).
    """

    name: str
    title: str
    section: str
    measured: bool

    @property
    def stem(self) -> str:
        """File stem: ``thm5.1`` -> ``thm5_1``."""
        return self.name.replace(".", "_")

    @property
    def filename(self) -> str:
        return f"{self.stem}.py"


_N = ProofNotebook
NOTEBOOKS: tuple[ProofNotebook, ...] = (
    _N("lemma2.1", "Robustness of contracting systems", "Sec. 2.5, (10)-(13)", True),
    _N("thm2.1", "Stochastic contraction", "Sec. 2.5, (14)", True),
    _N("cor2.1", "Stochastic contraction, one noisy trajectory", "Sec. 2.5", True),
    _N("thm3.1", "Synchronization of agents with a common input", "Sec. 3.1, (19)-(21)", True),
    _N("lemma3.1", "Synchronization condition: the spread of the agents", "Sec. 3.1, (22)-(24)", True),
    _N("thm3.2", "Synchronization reduces noise: the disturbance bound", "Sec. 3.2, (25)-(31)", True),
    _N("lemma3.2", "Synchronization of QSGD with momentum", "Sec. 3.5, (33)-(37)", False),
    _N("sgd", "The SGD comparison bound", "Sec. 5.1, (48)", True),
    _N("thm5.1", "QSGD convergence", "Sec. 5.1, (47)", True),
    _N("lemma5.2", "Deterministic EASGD: contraction of the synchronized system", "Sec. 5.2, (50)", False),
    _N("thm5.2", "EASGD convergence", "Sec. 5.2, (51)", True),
    _N("lemma5.3", "Deterministic QSGD with momentum", "Sec. 5.3, (52)-(53)", False),
    _N("thm5.3", "QSGD with momentum convergence", "Sec. 5.3, (54)", True),
    _N("lemma5.4", "State-dependent coupling (SD-QSGD)", "Sec. 5.4, (55)-(57), (60)-(61)", True),
    _N("lemma5.5", "Iterate averaging on a quadratic", "Sec. 5.5, (58)-(59)", True),
    _N("stability", "Discrete-time stability of QSGD and EASGD", "SI; spec §2.6", True),
    _N("sdp", "Certified worst case over S(λ, L): SDP certificates", "Sec. 5, (47), (51), (54); (41), (3), (42)-(43)",
       True),
)
"""Every proof notebook, in the paper's order (the design's theorem names)."""


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
